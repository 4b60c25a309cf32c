"""leadsea sweep [--as-of ISO-8601] [--every SECONDS]: drop expired private leads back to the public sea."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from leadsea.pools.sweep import sweep


class Command(BaseCommand):
    help = (
        "Drop every private lead whose deadline has passed (set-based, idempotent, safe to run in parallel)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--as-of", help="ISO-8601 time to sweep as of (default: now)")
        parser.add_argument("--every", type=float, help="Keep running, sweeping every SECONDS (a worker).")
        parser.add_argument("--batch", type=int, default=20000)

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = None
        if options["as_of"]:
            try:
                as_of = datetime.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(f"--as-of: {options['as_of']!r} is not an ISO-8601 time.")
            if timezone.is_naive(as_of):
                as_of = timezone.make_aware(as_of, timezone.get_default_timezone())
        if not options["every"]:
            self._once(as_of, options["batch"])
            return
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        while not stop["now"]:
            close_old_connections()
            try:
                self._once(None, options["batch"])
            except Exception as exc:  # a worker logs and goes on; the next round retries
                self.stderr.write(f"sweep failed: {exc}")
            for _ in range(int(options["every"] * 10)):
                if stop["now"]:
                    break
                time.sleep(0.1)

    def _once(self, as_of: datetime | None, batch: int) -> None:
        result = sweep(as_of=as_of, batch=batch)
        self.stdout.write(
            json.dumps(
                {"dropped": result.dropped, "batches": result.batches, "seconds": round(result.seconds, 3)}
            )
        )
