"""Events app: the transactional outbox, outgoing webhooks, the events feed and the plugin extension point."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "leadsea.events"
    label = "events"
