"""Upstream pull: an HTTP JSON source polled on an interval, with a `since` cursor kept between polls.

Source config (IntakeSource.config, channel `pull`):
    url             the endpoint (GET), e.g. https://partner.example/api/stores
    headers         extra request headers, e.g. {"Authorization": "Bearer ..."}
    interval_s      seconds between polls (default 300)
    items_path      dotted path of the item array in the response ("data.items"; "" = the response itself)
    id_field        dotted path of the item's id, becomes external_id (default "id")
    fields          {our field: dotted path in the item}; unmapped fields of ours are taken by the same name
    since_param     query parameter that carries the cursor (default "since")
    cursor_path     dotted path in the response of the next cursor (e.g. "next_since"), or
    cursor_field    dotted path in each item whose largest value is the next cursor (e.g. "updated_at")
    max_pages       pages fetched per run while the cursor moves (default 10)
    timeout_s       request timeout (default 20)

The cursor is saved only after the page's records are committed: a crash re-reads the page, and intake's
idempotency by source + external_id turns the re-read into no-ops."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from leadsea.core import clock
from leadsea.intake.channels.common import RunOutcome, state_of, state_save, submit
from leadsea.intake.models import IntakeSource

RECORD_FIELDS = (
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
    "coord_sys",
    "tags",
    "custom_fields",
)


class PullError(Exception):
    pass


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path ("data.items", "contact.phone"); None when absent."""
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def map_item(item: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    mapping: dict[str, str] = config.get("fields") or {}
    record: dict[str, Any] = {}
    for name in RECORD_FIELDS:
        value = dig(item, mapping.get(name, name))
        if value is not None:
            record[name] = value
    ext = dig(item, config.get("id_field") or "id")
    record["external_id"] = "" if ext is None else str(ext)
    return record


def fetch(url: str, *, headers: dict[str, str], timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise PullError(f"HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise PullError(f"cannot reach {url}: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PullError(f"not JSON from {url}: {exc}") from None


def _page_url(config: dict[str, Any], cursor: str) -> str:
    url = str(config["url"])
    if not cursor:
        return url
    parts = urllib.parse.urlsplit(url)
    query = [*urllib.parse.parse_qsl(parts.query), (config.get("since_param") or "since", cursor)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def pull_run(*, source: IntakeSource, now: datetime | None = None) -> RunOutcome:
    """Poll one pull source: fetch pages from the stored cursor on, submit their records, move the cursor."""
    now = now or clock.now()
    config = source.config or {}
    outcome = RunOutcome(source=source.key)
    state = state_of(source)
    interval = float(config.get("interval_s") or 300)
    if not config.get("url"):
        outcome.error = "config.url is missing"
        state_save(state, now=now, interval_s=interval, ok=False, error=outcome.error)
        return outcome
    cursor = state.cursor
    try:
        for _page in range(int(config.get("max_pages") or 10)):
            data = fetch(
                _page_url(config, cursor),
                headers={str(k): str(v) for k, v in (config.get("headers") or {}).items()},
                timeout=float(config.get("timeout_s") or 20),
            )
            items = dig(data, config.get("items_path") or "")
            if not isinstance(items, list):
                raise PullError(f"no item array at {config.get('items_path') or '(root)'!r}")
            items = [i for i in items if isinstance(i, dict)]
            if items:
                outcome.count(submit(source=source, records=[map_item(i, config) for i in items], now=now))
            nxt = _next_cursor(data, items, config, cursor)
            moved = nxt != cursor
            if moved:
                cursor = nxt
                state.cursor = cursor  # saved after the page's records are committed
                state.save(update_fields=["cursor"])
            if not items or not moved:
                break
    except PullError as exc:
        outcome.error = str(exc)
    state_save(
        state, now=now, interval_s=interval, ok=not outcome.error, error=outcome.error, seen=outcome.records
    )
    return outcome


def _next_cursor(data: Any, items: list[dict[str, Any]], config: dict[str, Any], cursor: str) -> str:
    if config.get("cursor_path"):
        value = dig(data, config["cursor_path"])
        return cursor if value in (None, "") else str(value)
    if config.get("cursor_field"):
        values = [str(v) for v in (dig(i, config["cursor_field"]) for i in items) if v not in (None, "")]
        # Cursors compare as the upstream sorts them: ISO times and zero-padded numbers sort as text;
        # plain integers are compared as numbers.
        if values and all(v.lstrip("-").isdigit() for v in values + ([cursor] if cursor else [])):
            best = max([int(v) for v in values] + ([int(cursor)] if cursor else []))
            return str(best)
        return max([*values, cursor]) if values else cursor
    return cursor


def pull_sources_due(*, now: datetime | None = None, tenant_id: int | None = None) -> list[IntakeSource]:
    """Active pull sources whose next run is due (never run counts as due). Cross-tenant by design: the
    worker serves every tenant."""
    from leadsea.core.tenancy_guard import unscoped
    from leadsea.intake.channels.models import ChannelState

    now = now or clock.now()
    with unscoped():
        qs = IntakeSource.objects.filter(channel=IntakeSource.Channel.PULL, is_active=True).select_related(
            "tenant"
        )
        if tenant_id is not None:
            qs = qs.filter(tenant_id=tenant_id)
        sources = list(qs.order_by("tenant_id", "id"))
        not_due = set(
            ChannelState.objects.filter(source__in=sources, next_run_at__gt=now).values_list(
                "source_id", flat=True
            )
        )
    return [s for s in sources if s.pk not in not_due]
