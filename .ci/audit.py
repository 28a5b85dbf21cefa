"""Judge pip-audit's JSON report: fail on any known vulnerability, say loudly what was not checked.

pip-audit's `--strict` cannot tell "this package is vulnerable" from "the advisory service did not
answer": both exit 1. A mirror that serves PyPI's index but not its JSON API (this project's build
machines have one) would then fail every run without a finding. Here a finding always fails; a
package that could not be checked fails only with AUDIT_STRICT=1, and is otherwise named on stderr
with the reason, so a silent pass is still impossible.

Usage: python .ci/audit.py REPORT.json
"""

from __future__ import annotations

import json
import os
import sys


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    unchecked = [d for d in dependencies if d.get("skip_reason")]
    checked = len(dependencies) - len(unchecked)
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
            print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")
    for dep in unchecked:
        print(f"NOT CHECKED {dep['name']}: {dep['skip_reason']}", file=sys.stderr)
    print(
        f"audit: {len(dependencies)} pinned packages, {checked} checked, "
        f"{len(vulnerable)} with known vulnerabilities, {len(unchecked)} not checked"
    )
    if vulnerable:
        return 1
    if unchecked:
        strict = os.environ.get("AUDIT_STRICT", "0") == "1"
        consequence = "a failure (AUDIT_STRICT=1)" if strict else "a warning"
        print(
            f"WARNING: {len(unchecked)} of {len(dependencies)} packages could not be checked "
            f"(advisory service unreachable?); this is {consequence}",
            file=sys.stderr,
        )
        return 1 if strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
