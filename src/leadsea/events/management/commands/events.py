"""leadsea events dispatch [--once] [--every SECONDS]: the webhook worker; leadsea events plugins: what is
installed."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from leadsea.events import plugins
from leadsea.events.delivery import dispatch_once


class Command(BaseCommand):
    help = "Events: `dispatch` sends webhooks from the outbox (a worker, or --once); `plugins` lists plugins."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        dispatch = sub.add_parser("dispatch", help="Fan the outbox out to webhooks and send due deliveries.")
        dispatch.add_argument("--once", action="store_true", help="One round, then exit (cron, tests).")
        dispatch.add_argument("--every", type=float, default=1.0, help="Seconds between rounds (default 1).")
        dispatch.add_argument("--limit", type=int, default=50, help="Deliveries sent per round.")
        sub.add_parser("plugins", help="The installed plugins (entry point group leadsea.plugins).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "plugins":
            for name, config in sorted(plugins.installed().items()):
                self.stdout.write(f"{name}\t{config.version}\t{config.verbose_name or name}")
            return
        if options["action"] != "dispatch":
            raise CommandError(f"unknown action {options['action']}")
        if options["once"]:
            self._round(options["limit"])
            return
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        while not stop["now"]:
            close_old_connections()
            try:
                busy = self._round(options["limit"], quiet=True)
            except Exception as exc:  # a worker logs and goes on; the next round retries
                self.stderr.write(f"dispatch failed: {exc}")
                busy = False
            if busy:
                continue  # a full round: more is probably due
            for _ in range(max(1, int(options["every"] * 10))):
                if stop["now"]:
                    break
                time.sleep(0.1)

    def _round(self, limit: int, *, quiet: bool = False) -> bool:
        result = dispatch_once(limit=limit)
        if not quiet or result.attempted or result.fanned_out:
            self.stdout.write(json.dumps(result.__dict__))
        return result.attempted >= limit
