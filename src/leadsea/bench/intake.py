"""The intake benchmark: records per second through the whole pipeline against N existing POIs, and the
seconds of `leadsea dedup` on 100k records.

The existing POIs and the submitted records come from one generated world (intake.testdata, Chinese sets:
chains with branches, name variants, shops sharing a phone, missing fields), so a share of the submitted
records are real duplicates of existing leads (merges and review items), the rest new stores. The leads and
their blocking keys and matcher features are bulk-loaded (COPY on PostgreSQL); the records then go through
`intake_submit` in batches, exactly as the push API and the file import run them: normalize, candidates,
score, decide, write (leads, keys, provenance, review items, audit rows). On PostgreSQL `--workers`
processes submit at once, each a share of the cities (as concurrent pushes would); records/s is all the
records over the wall time of the slowest.

`--cpu` (with `--tenant`) measures where the time goes instead: the next run's records in one process, in a
transaction that is rolled back (the world is not used up, so runs of two code versions compare on the same
records and the same database), printing the CPU time per record of this process and of its PostgreSQL
backend, the cyclic garbage collector's share and the slowest statements."""

from __future__ import annotations

import csv
import gc
import multiprocessing
import os
import random
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from leadsea.bench.common import BENCH_TABLES, bench_tenant, drop_tenant, prepare_database, vacuum_analyze
from leadsea.core import clock, geo
from leadsea.core.errors import DomainError
from leadsea.core.tenancy_guard import unscoped
from leadsea.intake import matching, pipeline, testdata
from leadsea.intake.models import IntakeRecord, IntakeSource, LeadFeatures, LeadKey, ReviewItem
from leadsea.intake.services import intake_submit, source_get_or_create
from leadsea.leads.models import Lead
from leadsea.pools.selectors import default_pool
from leadsea.tenancy.models import Membership, Tenant

_CJK = re.compile(r"[\u4e00-\u9fff]")
LOAD_CHUNK = 50_000
RUNS_PER_WORLD = 5  # runs on one kept tenant (--tenant), each with records of its own


def add_arguments(parser: Any) -> None:
    parser.add_argument("--existing", type=int, default=1_000_000, help="existing POIs (default 1,000,000)")
    parser.add_argument("--records", type=int, default=20_000, help="records submitted (default 20,000)")
    parser.add_argument("--batch-size", type=int, default=500, help="records per intake_submit (default 500)")
    parser.add_argument(
        "--dedup-records",
        type=int,
        default=100_000,
        help="records for the dedup timing (default 100,000; 0 skips)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes submitting at once, as concurrent pushes to the API, the records split between "
        "them by city (default 2; 1 measures one stream)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated world")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark tenant afterwards")
    parser.add_argument(
        "--tenant",
        help="measure again on a tenant kept by an earlier run (--keep): no load; each run submits the next "
        "slice of the same generated world through a source of its own",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="with --tenant: submit the next run's records in one process and roll them back, printing the "
        "CPU time per record of this process and of its PostgreSQL backend, the garbage collector's share "
        "and the slowest statements (COPY writes not included)",
    )


WORLD_CHUNK = 40_000  # the generators slow down on big worlds: several independent ones, seeds apart


def _world(n: int, seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    """About n Chinese POI records (as intake dicts) from the labelled generators, shuffled, and the true
    store (entity) of each."""
    out: list[tuple[dict[str, Any], str]] = []
    rounds = 0
    while len(out) < n:
        want = min(WORLD_CHUNK, n - len(out))
        for rec in testdata.generate_mixed(int(want * 1.15) + 100, seed=seed + rounds):
            if _CJK.search(rec.name):
                data = {
                    "external_id": f"{rec.id}-{rounds}",
                    "name": rec.name,
                    "address": rec.address,
                    "city": rec.city,
                    "phone": rec.phone,
                    "lat": rec.lat,
                    "lng": rec.lng,
                    "category": rec.category,
                }
                out.append((data, f"{rec.entity}-{rounds}"))
        rounds += 1
    random.Random(seed).shuffle(out)
    return [data for data, _e in out[:n]], [entity for _d, entity in out[:n]]


def _normalized(data: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return pipeline.normalize(data)
    except DomainError:
        try:
            return pipeline.normalize({**data, "phone": ""})  # an unusable phone: the store without it
        except DomainError:
            return None


def _reserve_ids(n: int) -> int:
    """The first of n consecutive lead ids nobody else will take."""
    table = Lead._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"nextval(pg_get_serial_sequence('{table}', 'id')) + %s)",
                [n],
            )
            return int(cursor.fetchone()[0]) - n + 1
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return int(cursor.fetchone()[0]) + 1


_LEAD_COLUMNS = [
    "id",
    "tenant_id",
    "kind",
    "name",
    "branch_name",
    "category",
    "address",
    "province",
    "city",
    "district",
    "phone",
    "phones",
    "lat",
    "lng",
    "geo_cell",
    "source_channel",
    "status",
    "custom_data",
    "search_text",
    "created_at",
    "updated_at",
    "pool_id",
    "expiry_clock",
    "self_extensions_used",
    "extension_days",
    "locked",
]


def _lead_rows(
    tenant: Tenant, pool_id: int, first_id: int, items: list[dict[str, Any]], now: Any
) -> Iterator[tuple[Any, ...]]:
    import json

    for i, n in enumerate(items):
        cell = geo.cell_of(n["lat"], n["lng"]) if n["lat"] is not None else None
        yield (
            first_id + i,
            tenant.pk,
            "poi",
            n["name"],
            n["branch_name"],
            n["category"],
            n["address"],
            n["province"],
            n["city"],
            n["district"],
            n["phones"][0] if n["phones"] else "",
            json.dumps(n["phones"]),
            n["lat"],
            n["lng"],
            cell,
            "import",
            "new",
            "{}",
            pipeline.search_text(n["name"], n["branch_name"], n["address"], n["phones"]),
            now,
            now,
            pool_id,
            "",
            0,
            0,
            False,
        )


def _copy(table: str, columns: list[str], rows: Iterator[tuple[Any, ...]] | list[tuple[Any, ...]]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows))


# The bench's own table (no model, no migration): the true store of each lead it knows; emptied by drop_tenant
TRUTH_TABLE = BENCH_TABLES[0]


def _truth_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TRUTH_TABLE} "
            "(lead_id bigint PRIMARY KEY, tenant_id integer NOT NULL, entity varchar(200) NOT NULL)"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {TRUTH_TABLE}_entity ON {TRUTH_TABLE} (entity)")


def load_existing(
    *,
    tenant: Tenant,
    pool_id: int,
    records: list[dict[str, Any]],
    log: Callable[[str], None],
    entities: list[str] | None = None,
) -> int:
    """Bulk-load leads and their blocking keys (the keys intake would have written); returns leads loaded.
    With `entities` (the true store of each record), each lead's goes into TRUTH_TABLE, for `_quality`."""
    now = clock.now()
    loaded = 0
    if entities is not None:
        _truth_table()
    with unscoped():
        for start in range(0, len(records), LOAD_CHUNK):
            pairs = [
                (n, entities[start + i] if entities is not None else "")
                for i, n in enumerate(map(_normalized, records[start : start + LOAD_CHUNK]))
                if n is not None
            ]
            items = [n for n, _e in pairs]
            raws = [pipeline.raw_record(str(i), n) for i, n in enumerate(items)]
            features = [matching.features_of(raw) for raw in raws]
            recs = matching.prepare(raws, features=features, statistics=False)
            with transaction.atomic():
                first = _reserve_ids(len(items))
                _copy(Lead._meta.db_table, _LEAD_COLUMNS, _lead_rows(tenant, pool_id, first, items, now))
                _copy(
                    LeadKey._meta.db_table,
                    ["tenant_id", "lead_id", "key"],
                    [
                        (tenant.pk, first + i, key)
                        for i, rec in enumerate(recs)
                        for key in pipeline.lead_keys(rec)
                    ],
                )
                _copy(
                    LeadFeatures._meta.db_table,
                    ["lead_id", "tenant_id", "version", "lat", "lng", "data"],
                    [
                        (
                            first + i,
                            tenant.pk,
                            matching.FEATURES_VERSION,
                            n["lat"],
                            n["lng"],
                            matching.features_dump(f),
                        )
                        for i, (n, f) in enumerate(zip(items, features, strict=True))
                    ],
                )
                if entities is not None:
                    _copy(
                        TRUTH_TABLE,
                        ["lead_id", "tenant_id", "entity"],
                        [(first + i, tenant.pk, entity) for i, (_n, entity) in enumerate(pairs)],
                    )
            loaded += len(items)
            log(f"loaded {loaded} leads")
    return loaded


def _dedup_seconds(n: int, seed: int, log: Callable[[str], None]) -> float:
    rows = testdata.generate_mixed(n, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(matching.COLUMNS))
            writer.writeheader()
            writer.writerows(r.values() for r in rows)
        started = time.perf_counter()
        call_command("dedup", str(path), "--out", str(out), stdout=open("/dev/null", "w"))  # noqa: SIM115
        seconds = time.perf_counter() - started
    log(f"dedup of {len(rows)} records in {seconds:.1f}s")
    return seconds


def split_by_city(records: list[dict[str, Any]], n: int) -> list[list[dict[str, Any]]]:
    """The records in at most n parts, each city wholly in one part, as upstream systems pushing one stream
    per city: a placed record that names no city goes with the city most records around it name (intake
    locks the cities of the leads around such a record, services._lock_records); records that do not
    normalize, or name no city and are not placed, with the empty city. The biggest cities first into the
    smallest part."""
    if n <= 1:
        return [records]
    placed: dict[str, Counter[str]] = defaultdict(Counter)  # lock cell -> cities named by records in it
    keyed: list[tuple[str, list[str]]] = []  # per record: its city, and its cells when it names none
    for data in records:
        try:
            normalized = pipeline.normalize(data)
        except DomainError:
            keyed.append(("", []))
            continue
        city = pipeline.lock_city(normalized)
        cells = pipeline.lock_cells(normalized)
        for cell in cells if city else ():
            placed[cell][city] += 1
        keyed.append((city, [] if city else cells))
    by_city: dict[str, list[dict[str, Any]]] = {}
    for data, (city, cells) in zip(records, keyed, strict=True):
        if not city and cells:
            votes = sum((placed[cell] for cell in cells), Counter())
            city = votes.most_common(1)[0][0] if votes else ""
        by_city.setdefault(city, []).append(data)
    parts: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for group in sorted(by_city.values(), key=len, reverse=True):
        min(parts, key=len).extend(group)
    return [part for part in parts if part]


def _submit_batches(
    tenant: Tenant, source: IntakeSource, admin: Membership, records: list[dict[str, Any]], size: int
) -> tuple[dict[str, int], list[float]]:
    """Submit records in batches: the statuses and each batch's seconds."""
    statuses: dict[str, int] = {}
    batch_seconds: list[float] = []
    for i in range(0, len(records), size):
        t0 = time.perf_counter()
        for r in intake_submit(tenant=tenant, source=source, records=records[i : i + size], actor=admin):
            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
        batch_seconds.append(time.perf_counter() - t0)
    return statuses, batch_seconds


def _submit_all(
    tenant: Tenant, source: IntakeSource, admin: Membership, records: list[dict[str, Any]], size: int
) -> tuple[dict[str, int], list[float]]:
    """One worker's share, on a connection of its own (closed after)."""
    try:
        return _submit_batches(tenant, source, admin, records, size)
    finally:
        connection.close()


def _truth_rows(tenant: Tenant, column: str, values: list[Any]) -> list[tuple[int, str]]:
    """(lead id, entity) rows of TRUTH_TABLE whose `column` is one of `values`."""
    rows: list[tuple[int, str]] = []
    with connection.cursor() as cursor:
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            cursor.execute(
                f"SELECT lead_id, entity FROM {TRUTH_TABLE} WHERE tenant_id = %s AND {column} IN "
                f"({', '.join(['%s'] * len(chunk))})",
                [tenant.pk, *chunk],
            )
            rows += cursor.fetchall()
    return rows


def _truth_known(tenant: Tenant) -> bool:
    """Whether TRUTH_TABLE holds the tenant's leads (not for a tenant kept by an older bench)."""
    with connection.cursor() as cursor:
        if TRUTH_TABLE not in connection.introspection.table_names(cursor):
            return False
        cursor.execute(f"SELECT 1 FROM {TRUTH_TABLE} WHERE tenant_id = %s LIMIT 1", [tenant.pk])
        return cursor.fetchone() is not None


def _quality(
    tenant: Tenant, source: IntakeSource, entity_of: dict[str, str], *, remember: bool = False
) -> dict[str, Any] | None:
    """How right the run's decisions were, against the generated world's true stores: of the records whose
    store already had a lead (loaded, made by an earlier run, or by an earlier record of this one), how many
    were merged into it (recall) or sent to review with it; of the merges, how many went to the right lead
    (precision); how many duplicates were created as new leads. Only decided records count (merged, created,
    review). Stores are told apart as the generators made them, so two generator rounds' stores of one brand
    branch in one city count as different (a little noise, the same for every code version). `remember`: the
    leads this run created join TRUTH_TABLE, for the next runs. None when the tenant's leads have no truth
    rows (kept by an older version of the bench)."""
    if not _truth_known(tenant):
        return None
    with unscoped():
        rows = list(
            IntakeRecord.objects.filter(tenant=tenant, source=source)
            .order_by("id")
            .values_list("external_id", "status", "lead_id")
        )
        reviewed = dict(
            ReviewItem.objects.filter(tenant=tenant, record__source=source).values_list(
                "record__external_id", "candidate_id"
            )
        )
    decided = (IntakeRecord.Status.MERGED, IntakeRecord.Status.CREATED, IntakeRecord.Status.REVIEW)
    mine = [entity_of.get(external_id, "") for external_id, _s, _l in rows]
    lead_entity = dict(
        _truth_rows(tenant, "lead_id", sorted({x for *_r, x in rows if x} | set(reviewed.values())))
    )
    had_lead = {entity for _l, entity in _truth_rows(tenant, "entity", sorted(set(mine) - {""}))}
    created = [
        (lead_id, entity)
        for (_x, status, lead_id), entity in zip(rows, mine, strict=True)
        if status == IntakeRecord.Status.CREATED and lead_id and entity
    ]
    lead_entity.update(created)
    counts: Counter[str] = Counter()
    for (external_id, status, lead_id), entity in zip(rows, mine, strict=True):
        if status not in decided:
            continue
        duplicate = entity in had_lead
        counts["duplicates"] += duplicate
        if status == IntakeRecord.Status.MERGED:
            counts["merged_right" if lead_entity.get(lead_id) == entity else "merged_wrong"] += 1
        elif status == IntakeRecord.Status.CREATED:
            counts["created_duplicate" if duplicate else "created_right"] += 1
            had_lead.add(entity)
        else:
            right = lead_entity.get(reviewed.get(external_id, 0)) == entity
            counts["review_right" if right else "review_wrong"] += 1
    if remember and created:
        _copy(TRUTH_TABLE, ["lead_id", "tenant_id", "entity"], [(x, tenant.pk, e) for x, e in created])
    merged = counts["merged_right"] + counts["merged_wrong"]
    return {
        **{k: counts[k] for k in sorted(counts)},
        "merge_precision": round(counts["merged_right"] / merged, 4) if merged else None,
        "merge_recall": round(counts["merged_right"] / counts["duplicates"], 4)
        if counts["duplicates"]
        else None,
    }


class _RolledBack(Exception):
    pass


def _backend_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a local PostgreSQL backend (None when it is not on this machine)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_profile(
    tenant: Tenant,
    admin: Membership,
    key: str,
    records: list[dict[str, Any]],
    size: int,
    entity_of: dict[str, str],
) -> dict[str, Any]:
    """Submit the records in batches in one transaction, rolled back; the CPU it took, per record."""
    statements: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    collected = [0.0, 0.0]  # seconds in the collector, start of the current collection

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = statements[" ".join(sql.split())[:100]]
            entry[0] += time.perf_counter() - began
            entry[1] += 1

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collected[1] = time.process_time()
        else:
            collected[0] += time.process_time() - collected[1]

    statuses: dict[str, int] = {}
    figures: dict[str, float | None] = {}
    quality: dict[str, Any] | None = None
    gc.callbacks.append(on_gc)
    try:
        with transaction.atomic():
            source = source_get_or_create(tenant=tenant, key=key, channel="push")
            pid = None
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pid = cursor.fetchone()[0]
            backend0, client0, wall0 = _backend_cpu_seconds(pid), time.process_time(), time.perf_counter()
            with connection.execute_wrapper(timed):
                statuses = _submit_batches(tenant, source, admin, records, size)[0]
                if connection.vendor == "postgresql":  # the deferred foreign-key checks a commit would run
                    with connection.cursor() as cursor:
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            client1, wall1, backend1 = time.process_time(), time.perf_counter(), _backend_cpu_seconds(pid)
            figures = {
                "client_cpu": client1 - client0,
                "server_cpu": None if backend0 is None or backend1 is None else backend1 - backend0,
                "wall": wall1 - wall0,
            }
            quality = _quality(tenant, source, entity_of)
            raise _RolledBack
    except _RolledBack:
        pass
    finally:
        gc.callbacks.remove(on_gc)
    n = max(1, len(records))

    def per_record(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1000 / n, 3)

    slowest = sorted(statements.items(), key=lambda kv: -kv[1][0])[:10]
    return {
        "mode": "cpu",
        "records": len(records),
        "statuses": statuses,
        "client_cpu_ms_per_record": per_record(figures["client_cpu"]),
        "server_cpu_ms_per_record": per_record(figures["server_cpu"]),
        "gc_ms_per_record": per_record(collected[0]),
        "wall_ms_per_record": per_record(figures["wall"]),
        "quality": quality,
        "statements": [
            {"sql": sql, "calls": int(calls), "ms_per_record": per_record(seconds)}
            for sql, (seconds, calls) in slowest
        ],
    }


def _kept(slug: str) -> tuple[Tenant, Membership, int, int]:
    """The kept tenant, its admin, its existing leads (before any measured run) and the runs made on it."""
    tenant = Tenant.objects.get(slug=slug)
    admin = Membership.objects.get(tenant=tenant, role=Membership.Role.ADMIN, user__username=f"{slug}-admin")
    with unscoped():
        runs = IntakeSource.objects.filter(tenant=tenant, key__startswith="bench").count()
        existing = Lead.objects.filter(tenant=tenant, source_channel="import").count()
    return tenant, admin, existing, runs


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    prepare_database()
    n_existing, n_records, size = options["existing"], options["records"], options["batch_size"]
    result: dict[str, Any] = {"database": connection.vendor}
    runs = 0
    if options.get("cpu") and not options["tenant"]:
        raise CommandError("--cpu measures on a kept tenant: give --tenant SLUG (from a run with --keep).")
    if options["tenant"]:
        tenant, admin, loaded, runs = _kept(options["tenant"])
        options["keep"], n_existing = True, options["existing"]
        log(f"measuring on the {loaded} leads kept in {tenant.slug} (run {runs + 1})")
    else:
        tenant, _team, _members, admin = bench_tenant("bench-intake", 1)
    try:
        began = time.perf_counter()
        if runs >= RUNS_PER_WORLD:
            raise RuntimeError(f"{tenant.slug} has had {runs} runs; the world holds {RUNS_PER_WORLD}")
        # One world for the first run and the reruns: the same existing leads, a fresh slice of records each.
        world, entities = _world(n_existing + RUNS_PER_WORLD * n_records, options["seed"])
        log(f"generated {len(world)} records in {time.perf_counter() - began:.1f}s")
        if not options["tenant"]:
            began = time.perf_counter()
            loaded = load_existing(
                tenant=tenant,
                pool_id=default_pool(tenant=tenant).pk,
                records=world[:n_existing],
                entities=entities[:n_existing],
                log=log,
            )
            vacuum_analyze([Lead, LeadKey, LeadFeatures])
            result.update(load_seconds=round(time.perf_counter() - began, 1))
        result.update(existing=loaded)
        key = "bench" if runs == 0 else f"bench-{runs + 1}"
        window = slice(n_existing + runs * n_records, n_existing + (runs + 1) * n_records)
        submit = world[window]
        entity_of = {
            data["external_id"]: entity for data, entity in zip(submit, entities[window], strict=True)
        }
        # The rest of the generated world is not needed: freed, so that the collector's full passes during
        # the measured run do not walk a million of the bench's own dicts (0.07 ms a record, in no server).
        del world, entities
        gc.collect()
        if options.get("cpu"):
            result.update(_cpu_profile(tenant, admin, key, submit, size, entity_of))
            log(f"{len(submit)} records through the pipeline, rolled back: {result['statuses']}")
            return result
        source: IntakeSource = source_get_or_create(tenant=tenant, key=key, channel="push")
        # SQLite takes one writer at a time: one stream there.
        parts = split_by_city(submit, options["workers"] if connection.vendor == "postgresql" else 1)
        started = time.perf_counter()
        if len(parts) == 1:
            outcomes = [_submit_all(tenant, source, admin, parts[0], size)]
        else:
            connections.close_all()  # each process opens its own connection
            with multiprocessing.get_context("fork").Pool(len(parts)) as workers:
                outcomes = workers.starmap(
                    _submit_all, [(tenant, source, admin, part, size) for part in parts]
                )
        elapsed = time.perf_counter() - started
        statuses: dict[str, int] = {}
        batch_seconds: list[float] = []
        for counts, seconds in outcomes:
            for status, n in counts.items():
                statuses[status] = statuses.get(status, 0) + n
            batch_seconds += seconds
        log(
            f"{len(submit)} records through the pipeline in {elapsed:.1f}s ({len(parts)} workers): {statuses}"
        )
        result.update(
            records=len(submit),
            workers=len(parts),
            batch_size=size,
            records_per_s=round(len(submit) / elapsed, 1) if elapsed else None,
            batch_p50_ms=round(statistics.median(batch_seconds) * 1000, 1) if batch_seconds else None,
            batch_max_ms=round(max(batch_seconds) * 1000, 1) if batch_seconds else None,
            statuses=statuses,
            quality=_quality(tenant, source, entity_of, remember=True),
        )
        if options["dedup_records"]:
            result.update(
                dedup_records=options["dedup_records"],
                dedup_seconds=round(_dedup_seconds(options["dedup_records"], options["seed"], log), 1),
            )
    finally:
        if not options["keep"]:
            drop_tenant(tenant, log)
        else:
            log(f"kept {tenant.slug}: measure again with --tenant {tenant.slug} --existing {n_existing}")
    return result
