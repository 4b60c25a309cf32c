"""leadsea bench NAME [--database URL] [...]: benchmarks that print one JSON line of figures."""

from __future__ import annotations

import importlib
import json
from typing import Any

from django.core.management.base import BaseCommand

BENCHMARKS = {
    "pool": "leadsea.bench.pool",
    "nearby": "leadsea.bench.nearby",
    "search": "leadsea.bench.search",
    "intake": "leadsea.bench.intake",
}


class Command(BaseCommand):
    help = "Run a benchmark and print its figures as one JSON line. --database URL picks the database."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="name", required=True)
        for name, module in BENCHMARKS.items():
            bench = importlib.import_module(module)
            bench.add_arguments(sub.add_parser(name, help=(bench.__doc__ or name).splitlines()[0]))

    def handle(self, *args: Any, **options: Any) -> None:
        bench = importlib.import_module(BENCHMARKS[options["name"]])
        result = bench.run(options, log=lambda msg: self.stderr.write(msg))
        self.stdout.write(json.dumps(result, ensure_ascii=False))
