"""``--help`` of every command and subcommand at 80 and 120 columns: nothing cut, no raw markup.

Rendered in-process through the real entry point (``finops ... --help``), with ``COLUMNS`` set as
a terminal of that width would. A cut shows as ``…`` (rich's ellipsis) next to an option or a
``FINOPS_*`` name; raw markup as reStructuredText literals, markdown backticks, rich tags or
click's ``<float range> [x>=0.0]`` type descriptions.
"""

from __future__ import annotations

import re

import pytest

from finops_cli.cli.app import COMMANDS, build_app
from tests.support.inprocess import run_inprocess

RAW_MARKUP = (
    re.compile(r"``"),  # reStructuredText literal
    re.compile(r"`[^`\s][^`]*`"),  # markdown code
    re.compile(r"\[/?(bold|dim|italic|red|green|yellow|cyan|b|i)\]"),  # rich tags
    re.compile(r"<(str|int|float|text|integer)( range)?>"),  # click/typer type names
    re.compile(r"\[x[<>]=?"),  # click's range description
    re.compile(r"\[(default|env var|required)"),  # typer's bracketed extras
)
CUT = re.compile(r"(--[\w-]*|\bFINOPS_\w*|\b-\w)…|…")


def _words(text: str) -> str:
    """The help's words in one line, without the panels' borders."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def _command(words: tuple[str, ...]):
    import typer

    command = typer.main.get_command(build_app())
    for word in words:
        command = command.commands[word]  # type: ignore[attr-defined]
    return command


def _invocations() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [()]
    for name in COMMANDS:
        found.append((name,))
        for sub in getattr(_command((name,)), "commands", {}):
            found.append((name, sub))
    return found


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("words", _invocations(), ids=lambda words: " ".join(words) or "finops")
def test_help_fits_and_is_plain_text(tmp_path, words, width):
    run = run_inprocess(*words, "--help", home=tmp_path, env={"COLUMNS": str(width)})
    assert run.code == 0, run.stderr
    assert run.crash is None
    text = run.stdout
    assert "Usage: finops" in text
    assert "╭─" in text  # the panels were drawn
    for line in text.splitlines():
        assert len(line) <= width, f"wider than {width} columns: {line!r}"
    cut = CUT.search(text)
    assert cut is None, f"cut text in help: {cut.group(0)!r}"
    for pattern in RAW_MARKUP:
        found = pattern.search(text)
        assert found is None, f"raw markup in help: {found.group(0)!r}"
    words_shown = _words(text).replace(",", " ").split()
    shown = set(words_shown)
    shown |= {w.replace("--[no-]", "--") for w in words_shown if w.startswith("--[no-]")}
    shown |= {w.replace("--[no-]", "--no-") for w in words_shown if w.startswith("--[no-]")}
    for param in _command(words).params:
        if getattr(param, "hidden", False) or param.param_type_name != "option":
            continue
        for name in (*param.opts, *param.secondary_opts):
            assert name in shown, f"{name} missing (or cut) in {' '.join(words)} --help"


@pytest.mark.parametrize("width", [80, 120])
def test_every_option_name_and_variable_appears_whole(tmp_path, width):
    run = run_inprocess("costs", "--help", home=tmp_path, env={"COLUMNS": str(width)})
    for name in (
        "--[no-]thanos-partial-response",
        "--insecure-skip-tls-verify",
        "--max-response-mb",
        "FINOPS_PROMETHEUS_URL",
        "FINOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY",
        "FINOPS_THANOS_PARTIAL_RESPONSE",
    ):
        assert f" {name}" in _words(run.stdout)


def test_help_offers_only_what_the_command_takes(tmp_path):
    forecast = run_inprocess("forecast", "--help", home=tmp_path, env={"COLUMNS": "120"}).stdout
    assert "--window" not in forecast and "--start" not in forecast
    assert "--end" in forecast
    gpus = run_inprocess("gpus", "--help", home=tmp_path, env={"COLUMNS": "120"}).stdout
    assert "<auto|sample|prometheus>" in gpus and "opencost" not in gpus
    refused = run_inprocess(
        "gpus", "--source", "opencost", "--opencost-url", "http://127.0.0.1:9", home=tmp_path
    )
    assert refused.code == 2 and "no per-GPU data" in refused.stderr
    actual = run_inprocess("billing", "actual", "--help", home=tmp_path, env={"COLUMNS": "120"})
    assert "ListCost and ContractedCost" in _words(actual.stdout)
