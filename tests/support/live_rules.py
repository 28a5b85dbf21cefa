"""``finops deploy generate --sharing-from``, run on a copy of the manifests, and what it made:
shared by the recorded-ledger tests that check the live rules against the data's discovery."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from finops_cli.deploy.paths import checkout_manifests_dir
from finops_cli.deploy.rules import RULES_FILE
from finops_cli.queries.names import RULES_INFO
from tests.support.cli import run_finops


def generate_from(url: str, work: Path) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """The command's output, the live ``finops_rules_info`` rule and every live rule, for rules
    made with what ``url`` holds (all of it: a 120-day window, five-minute scrapes)."""
    root = work / "manifests"
    shutil.copytree(checkout_manifests_dir() / "base", root / "base")
    result = run_finops(
        "deploy", "generate", "--manifests-dir", root, "--scrape-interval", "300",
        "--sharing-from", url, "--sharing-window", "120d",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load((root / "base/prometheus/rules" / RULES_FILE).read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    (info,) = [r for r in rules if r.get("record") == RULES_INFO]
    return result.stdout, info, rules
