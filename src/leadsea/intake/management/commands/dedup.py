"""leadsea dedup INPUT.csv --out CLUSTERS.csv | --left A.csv --right B.csv --out PAIRS.csv: store matching."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.core.gcpause import gc_paused
from leadsea.intake.matching import RawRecord, dedup, link, read_records_csv


class Command(BaseCommand):
    help = (
        "Cluster the duplicate stores of one CSV (id,name,address,city,phone,lat,lng,category) into "
        "id,cluster_id, or link two CSVs into left_id,right_id,score. No labels or training needed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("input", nargs="?", help="CSV to deduplicate")
        parser.add_argument("--left", help="first CSV to link")
        parser.add_argument("--right", help="second CSV to link")
        parser.add_argument("--out", required=True, help="CSV to write")
        parser.add_argument(
            "--workers", type=int, default=None, help="scoring processes (default: CPUs, max 4)"
        )

    @gc_paused()  # one batch of long-lived records and pairs: see core.gcpause
    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        out = Path(options["out"])
        if options["input"] and (options["left"] or options["right"]):
            raise CommandError("Give either INPUT or --left and --right, not both.")
        if options["input"]:
            records = self._read(options["input"])
            result = dedup(records, workers=options["workers"])
            with open(out, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(("id", "cluster_id"))
                writer.writerows(zip(result.ids, result.cluster_ids(), strict=True))
            clusters = len(set(result.labels))
            summary = f"{len(records)} records, {clusters} clusters"
        elif options["left"] and options["right"]:
            left, right = self._read(options["left"]), self._read(options["right"])
            pairs = link(left, right, workers=options["workers"])
            with open(out, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(("left_id", "right_id", "score"))
                writer.writerows((a, b, f"{score:.4f}") for a, b, score in pairs)
            summary = f"{len(left)} + {len(right)} records, {len(pairs)} matching pairs"
        else:
            raise CommandError("Give INPUT.csv, or both --left A.csv and --right B.csv.")
        self.stdout.write(f"{summary} -> {out} in {time.perf_counter() - started:.1f}s")

    def _read(self, path: str) -> list[RawRecord]:
        if not Path(path).is_file():
            raise CommandError(f"{path}: no such file.")
        try:
            records, problems = read_records_csv(path)
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not UTF-8 (byte {exc.start} of a line); save it as UTF-8 first.")
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}")
        for problem in problems:
            self.stderr.write(f"{path}: {problem}")
        return records
