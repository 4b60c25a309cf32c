"""leadsea serve: the production-grade HTTP server (gunicorn, threaded workers) with static files."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from leadsea.wsgi import application

        return application


class Command(BaseCommand):
    help = "Serve the web workbench and the API (gunicorn with threaded workers; static files by WhiteNoise)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=min(4, multiprocessing.cpu_count() + 1))
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-migrate", action="store_true", help="Do not migrate the database first.")
        parser.add_argument(
            "--sweep-every",
            type=float,
            default=60.0,
            help="Run the pool sweep every SECONDS beside the server (0: leave it to a worker).",
        )
        parser.add_argument(
            "--dispatch-every",
            type=float,
            default=1.0,
            help="Send webhooks every SECONDS beside the server (0: leave it to `leadsea events dispatch`).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        bind = f"{options['host']}:{options['port']}"
        self.stdout.write(self.style.SUCCESS(f"leadsea serving on http://{bind}/ (Ctrl-C stops)"))
        sweeper = None
        if options["sweep_every"] > 0:
            # The embedded default runs the automatic drop itself; production runs `leadsea sweep --every N`.
            sweeper = subprocess.Popen(
                [sys.executable, "-m", "leadsea.cli", "sweep", "--every", str(options["sweep_every"])],
                stdout=subprocess.DEVNULL,
            )
        workers = [sweeper] if sweeper is not None else []
        if options["dispatch_every"] > 0:
            # Likewise the webhook dispatcher; production runs `leadsea events dispatch`.
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "leadsea.cli",
                        "events",
                        "dispatch",
                        "--every",
                        str(options["dispatch_every"]),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
        try:
            self._serve(bind, options)
        finally:
            for worker in workers:
                worker.terminate()
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()

    def _serve(self, bind: str, options: dict[str, Any]) -> None:
        _Server(
            {
                "bind": bind,
                "workers": options["workers"],
                "threads": options["threads"],
                "worker_class": "gthread",
                "timeout": 60,
                "graceful_timeout": 10,
                "accesslog": "-",
                "preload_app": False,
            }
        ).run()
