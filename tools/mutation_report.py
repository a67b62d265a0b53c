"""Per-module mutation scores after ``mutmut run``, the way docs/TESTING.md records them.

Reads ``mutmut results --all true`` (one ``name: status`` line per mutant), groups the mutants by
money module (the account's four files count as one module), prints killed / total / judged
equivalent / score for each (killed over the mutants not judged equivalent, the usual mutation
score), and lists every survivor, marked ``listed`` when docs/TESTING.md names it among the
mutants judged equivalent. Exits 1 when a module scores below the target or a survivor is not
listed, so ``make mutation`` fails on a mutant nobody has judged.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

TARGET_PERCENT = 95
MODULES = {
    "engine.domain.money": "money",
    "engine.domain.charges": "charges",
    "engine.domain.margin": "margin",
    "engine.domain.portfolio": "portfolio",
    "engine.domain.iceberg": "iceberg",
    "engine.domain.account": "account",
    "engine.risk.portfolio_margin": "portfolio margin",
    "engine.market.order_book": "order book",
}
TESTING_DOC = Path(__file__).resolve().parent.parent / "docs" / "TESTING.md"
LINE = re.compile(r"^\s*(?P<name>[\w.ǁ]+): (?P<status>[\w ]+)$")


def module_of(mutant: str) -> str:
    for prefix, module in MODULES.items():
        if mutant.startswith(prefix + "."):
            return module
    return mutant.rsplit(".", 1)[0]


def main() -> int:
    listing = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    totals: Counter[str] = Counter()
    killed: Counter[str] = Counter()
    survivors: list[str] = []
    for line in listing.splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        name, status = match["name"], match["status"]
        module = module_of(name)
        totals[module] += 1
        if status == "killed":
            killed[module] += 1
        else:
            survivors.append(f"{name}: {status}")
    judged = TESTING_DOC.read_text(encoding="utf-8")
    equivalent: Counter[str] = Counter()
    unjudged: list[str] = []
    for survivor in survivors:
        name = survivor.split(":", 1)[0]
        if re.search(re.escape(name) + r"(?!\d)", judged) is None:  # not _2 inside _21
            unjudged.append(survivor)
        else:
            equivalent[module_of(name)] += 1
    failing = bool(unjudged)
    print(f"{'module':<16} {'killed':>7} {'mutants':>8} {'equivalent':>11} {'score':>7}")
    for module in sorted(totals):
        # The score leaves out the mutants judged equivalent: no test can kill them.
        score = 100 * killed[module] / (totals[module] - equivalent[module])
        failing |= score < TARGET_PERCENT
        print(
            f"{module:<16} {killed[module]:>7} {totals[module]:>8} {equivalent[module]:>11}"
            f" {score:>6.1f}%"
        )
    for survivor in survivors:
        listed = survivor not in unjudged
        print(f"  {'listed' if listed else 'NOT LISTED'}  {survivor}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
