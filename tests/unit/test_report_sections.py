"""A report's sections asked at once: a failed optional section becomes a note in order, a
failed period's costs fail the command (``usecases.report._ask``, ``_extras``)."""

from __future__ import annotations

import pytest

from finops_cli.errors import SourceError
from finops_cli.usecases.report import ChargebackOptions, _ask, _extras


class _Run:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _failing(message: str):
    def call() -> None:
        raise SourceError(message)

    return call


@pytest.mark.parametrize("at_once", [True, False])
def test_failed_sections_become_notes_in_the_documents_order(at_once):
    answers = _ask(
        {
            "costs": lambda: "costs",
            "previous period": lambda: "previous",
            "unit costs": _failing("no traffic counters"),
            "recommendations": _failing("no dcgm-exporter metrics"),
            "anomalies": lambda: ["spike"],
        },
        at_once,
    )
    assert answers.pop("costs") == "costs" and answers.pop("previous period") == "previous"
    run = _Run()
    extras = _extras(answers, ChargebackOptions(by="team"), run)  # type: ignore[arg-type]
    assert extras.models is None and extras.recommendations is None
    assert extras.anomalies == ["spike"]
    assert extras.notes == [
        "unit costs left out: no traffic counters",
        "recommendations left out: no dcgm-exporter metrics",
    ]
    assert run.warnings == extras.notes


def test_the_periods_costs_failing_fails_the_report():
    questions = {"costs": _failing("server down"), "previous period": lambda: None}
    with pytest.raises(SourceError, match="server down"):
        _ask(questions, at_once=True)


def test_by_cost_center_says_why_recommendations_are_left_out():
    extras = _extras({}, ChargebackOptions(by="cost-center"), _Run())  # type: ignore[arg-type]
    assert extras.recommendations is None
    assert extras.notes[0].startswith("recommendations left out: right-sizing attributes")
