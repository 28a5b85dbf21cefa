"""An OpenCost answer for another window than the one asked is flagged, never used silently.

Each allocation of ``/allocation/compute`` carries ``window: {start, end}``, the window of the
allocation set it belongs to. The fake server (the OpenCost source's unit-test server, speaking
OpenCost's wire format) answers with ``current_team.json``, whose sets cover 2026-10-01 to
2026-10-04, or with that payload moved to another window.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from finops_cli.sources.opencost import window_notes
from tests.support.inprocess import run_inprocess
from tests.unit.test_opencost_source import FakeOpenCost, fixture, ok

ASKED = ("2026-10-01T00:00:00Z", "2026-10-04T00:00:00Z")


@pytest.fixture
def oc() -> Iterator[FakeOpenCost]:
    fake = FakeOpenCost()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()


def answered_for(start: str, end: str) -> dict[str, Any]:
    body = copy.deepcopy(fixture("current_team.json"))
    for step in body["data"]:
        for entry in step.values():
            entry["window"] = {"start": start, "end": end}
    return body


def costs(oc: FakeOpenCost, home: Any) -> tuple[int, dict[str, Any], str]:
    run = run_inprocess(
        "costs",
        "--source",
        "opencost",
        "--opencost-url",
        oc.url,
        "--start",
        ASKED[0],
        "--end",
        ASKED[1],
        "-o",
        "json",
        home=home,
    )
    assert run.crash is None, run.crash
    return run.code, json.loads(run.stdout) if run.stdout else {}, run.stderr


def test_the_window_asked_is_not_flagged(oc, tmp_path):
    code, doc, stderr = costs(oc, tmp_path)
    assert code == 0
    assert not [n for n in doc["notes"] if "WINDOW MISMATCH" in n]
    assert "WINDOW MISMATCH" not in stderr


def test_another_window_is_a_warning_and_a_note(oc, tmp_path):
    oc.default = ok(answered_for("2026-10-02T00:00:00Z", "2026-10-04T00:00:00Z"))
    code, doc, stderr = costs(oc, tmp_path)
    assert code == 0  # the figures are still shown, with the caveat
    (note,) = [n for n in doc["notes"] if "WINDOW MISMATCH" in n]
    assert "2026-10-02T00:00:00Z to 2026-10-04T00:00:00Z" in note
    assert "2026-10-01T00:00:00Z to 2026-10-04T00:00:00Z" in note
    assert "finops: warning: WINDOW MISMATCH" in stderr


def test_window_notes_rule():
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in ASKED)
    assert window_notes(set(), start, end) == []  # older builds send no window: nothing to check
    assert window_notes({(start, end)}, start, end) == []
    late = end.replace(second=30)
    assert window_notes({(start, late)}, start, end) == []  # within a minute: rounding
    early = datetime(2026, 10, 3, 23, tzinfo=UTC)
    assert window_notes({(start, early)}, start, end)
    steps = {(start, datetime(2026, 10, 2, tzinfo=UTC)), (datetime(2026, 10, 2, tzinfo=UTC), end)}
    assert window_notes(steps, start, end) == []  # steps that tile the window asked
