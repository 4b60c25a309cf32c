"""Intake channels that run in a worker: upstream HTTP pull and message-queue consumers (Redis Streams,
RabbitMQ). A small Django app of its own (label `intake_channels`) for the consumers' cursor state."""
