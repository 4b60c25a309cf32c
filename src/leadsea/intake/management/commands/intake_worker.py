"""leadsea intake-worker [--once] [--tenant SLUG] [--every S]: poll the due pull sources and drain the queue
sources (Redis Streams, RabbitMQ), printing one JSON line per source and round."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.core import clock
from leadsea.core.tenancy_guard import unscoped
from leadsea.intake.channels.common import RunOutcome, state_of, state_save
from leadsea.intake.channels.pull import pull_run, pull_sources_due
from leadsea.intake.models import IntakeSource
from leadsea.tenancy.models import Tenant


def queue_sources(tenant_id: int | None) -> list[IntakeSource]:
    with unscoped():  # the worker serves every tenant
        qs = IntakeSource.objects.filter(channel=IntakeSource.Channel.QUEUE, is_active=True).select_related(
            "tenant"
        )
        if tenant_id is not None:
            qs = qs.filter(tenant_id=tenant_id)
        return list(qs.order_by("tenant_id", "id"))


def consume(source: IntakeSource, consumer: str) -> RunOutcome:
    backend = (source.config or {}).get("backend", "redis")
    if backend == "redis":
        from leadsea.intake.channels import redis_streams

        return redis_streams.consume_once(source=source, consumer=consumer)
    if backend == "rabbitmq":
        from leadsea.intake.channels import rabbitmq

        return rabbitmq.consume_once(source=source)
    return RunOutcome(source=source.key, error=f"unknown backend {backend!r}")


class Command(BaseCommand):
    help = "Run the intake channels: due HTTP pull sources and the message-queue consumers."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument("--tenant", help="only this tenant's sources")
        parser.add_argument("--every", type=float, default=1.0, help="seconds between rounds (default 1)")
        parser.add_argument("--consumer", default=f"{socket.gethostname()}-{os.getpid()}")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant_id = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant {options['tenant']!r}")
            tenant_id = tenant.pk
        while True:
            busy = self.round(tenant_id, options["consumer"])
            if options["once"]:
                return
            if not busy:
                time.sleep(max(0.0, options["every"]))

    def round(self, tenant_id: int | None, consumer: str) -> bool:
        busy = False
        for source in pull_sources_due(tenant_id=tenant_id):
            self.report(pull_run(source=source))
        for source in queue_sources(tenant_id):
            now = clock.now()
            try:
                outcome = consume(source, consumer)
            except Exception as exc:  # a broker down must not stop the other sources
                outcome = RunOutcome(source=source.key, error=f"{type(exc).__name__}: {exc}"[:300])
            state_save(
                state_of(source),
                now=now,
                interval_s=0,
                ok=not outcome.error,
                error=outcome.error,
                seen=outcome.records,
            )
            busy = busy or outcome.records > 0
            if outcome.records or outcome.error or outcome.dead_lettered:
                self.report(outcome)
        return busy

    def report(self, outcome: RunOutcome) -> None:
        self.stdout.write(json.dumps(outcome.as_dict(), ensure_ascii=False))
