"""Every document kind and the renderers of its output formats, in one place.

A command builds a document (``finops_cli.usecases``); how it is written is looked up here by the
document's ``kind`` and the format asked for. JSON needs no entry: it is the document itself,
written by ``format.json_text`` for every kind. Renderer modules are imported only when their
format is asked for, so that looking one up costs nothing at start-up.

A new document kind adds a line to ``RENDERERS``; a new output format adds a key to the kinds
that support it (and, for ``-o``, a member of ``cli.common.OutputFormat``).
"""

from __future__ import annotations

import importlib
from typing import Any

from finops_cli.errors import UsageError

RENDERERS: dict[str, dict[str, str]] = {
    "costs": {"csv": "costs:render_csv", "table": "costs:render_tables"},
    "gpus": {"csv": "gpus:render_csv", "table": "gpus:render_table"},
    "rightsize": {"csv": "rightsize:render_csv", "table": "rightsize:render_table"},
    "forecast": {"csv": "forecast:render_csv", "table": "forecast:render_table"},
    "anomalies": {"csv": "anomalies:render_csv", "table": "anomalies:render_table"},
    "pricing": {"csv": "pricing:render_csv", "table": "pricing:render_table"},
    "pricing-explain": {"csv": "pricing:render_csv", "table": "pricing:render_table"},
    "billing-actual": {
        "csv": "billing:render_actual_csv",
        "table": "billing:render_actual_table",
    },
    "billing-forecast": {
        "csv": "billing:render_forecast_csv",
        "table": "billing:render_forecast_table",
    },
    "billing-compare": {
        "csv": "billing:render_compare_csv",
        "table": "billing:render_compare_table",
    },
    "billing-commitments": {
        "csv": "commitments:render_csv",
        "table": "commitments:render_table",
    },
    "billing-plan": {"csv": "plan:render_csv", "table": "plan:render_table"},
    "chargeback": {
        "csv": "chargeback:render_csv",
        "html": "chargeback:render_html",
        "pdf": "chargeback_pdf:render_pdf",
    },
}
"""kind -> format -> ``module:function`` under ``finops_cli.render``. ``csv`` and ``html``
functions take the document and return text, ``pdf`` returns bytes, and ``table`` functions take
the document and the terminal width and return a rich renderable."""


def renderer(kind: str, fmt: str) -> Any:
    """The function that writes a ``kind`` document as ``fmt`` (``json`` is ``json_text``)."""
    if fmt == "json":
        from finops_cli.render.format import json_text

        return json_text
    try:
        module, function = RENDERERS[kind][fmt].split(":")
    except KeyError:
        raise UsageError(f"a {kind} document cannot be written as {fmt}") from None
    return getattr(importlib.import_module(f"finops_cli.render.{module}"), function)


def render(document: dict[str, Any], fmt: str, width: int = 120) -> Any:
    """``document`` in ``fmt``: text, bytes (pdf) or a rich renderable (table)."""
    function = renderer(document["kind"], fmt)
    return function(document, width) if fmt == "table" else function(document)
