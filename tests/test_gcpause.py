"""core.gcpause: the cyclic collector is off while any batch runs, back on after the last, as it was."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

from leadsea.core.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _collector_on() -> Any:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_resumed_after_even_on_error() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), gc_paused():
        _ = 1 / 0
    assert gc.isenabled()


def test_left_off_when_it_was_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_batches_in_threads_resume_after_the_last() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with gc_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with gc_paused():
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after the first ended": False}
    assert gc.isenabled()


def test_intake_submit_runs_with_the_collector_paused(org: Any, monkeypatch: Any) -> None:
    from leadsea.intake import services
    from leadsea.intake.services import intake_submit, source_get_or_create

    seen: list[bool] = []
    real = services._lock_records
    monkeypatch.setattr(services, "_lock_records", lambda *a: (seen.append(gc.isenabled()), real(*a)))
    source = source_get_or_create(tenant=org.tenant, key="crawl", channel="import")
    [result] = intake_submit(tenant=org.tenant, source=source, records=[{"name": "喜茶", "city": "北京"}])
    assert result.status == "created"
    assert seen == [False]
    assert gc.isenabled()
