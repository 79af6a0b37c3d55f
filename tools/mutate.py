"""Mutation check: apply each mutation of MUTATIONS to the source, run the tests named for it (fast tier), and
report whether any test failed (caught) or all passed (survived). The source is restored after each one.

    .venv/bin/python tools/mutate.py            # all
    .venv/bin/python tools/mutate.py 1 4        # by number
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (name, file, text, mutated text, tests to run)
MUTATIONS = [
    ("top 100: <= → <", "etdz/scoring/ranks.py", "return national_rank <= TOP100",
     "return national_rank < TOP100", ["tests/scoring/test_rules.py", "tests/scoring/test_steps.py"]),
    ("due: exit year >= Y → > Y", "etdz/registry.py", "int(exit_data_year) >= data_year",
     "int(exit_data_year) > data_year", ["tests/test_registry.py"]),
    ("due: first year > Y → >= Y", "etdz/registry.py", "int(first_data_year) > data_year",
     "int(first_data_year) >= data_year", ["tests/test_registry.py"]),
    ("window's first year Y−w+1 → Y−w", "etdz/scoring/downgrade.py", "range(data_year - window + 1, data_year + 1)",
     "range(data_year - window, data_year + 1)", ["tests/scoring/test_downgrade_window.py"]),
    ("watchlist: >= times → > times", "etdz/scoring/downgrade.py", "return earlier + bottom_now >= times",
     "return earlier + bottom_now > times", ["tests/scoring/test_downgrade_window.py"]),
    ("20 MB limit → 21 MB", "etdz/reading.py", "DEFAULT_MAX_BYTES = 20 * 1024 * 1024",
     "DEFAULT_MAX_BYTES = 21 * 1024 * 1024", ["tests/test_reading.py", "tests/test_settings.py"]),
    ("top 30 → 31", "etdz/scoring/ranks.py", "TOP30 = 30", "TOP30 = 31",
     ["tests/scoring/test_rules.py",
      "tests/test_changes.py::test_the_top_30_and_region_top_10_hold_ranks_30_and_10_and_not_31_and_11"]),
    ("trimming: no-break space not blank", "etdz/cells.py", '" \\t\\n\\r\\x0b\\x0c\\u0085\\u00a0\\u1680"',
     '" \\t\\n\\r\\x0b\\x0c\\u0085\\u1680"', ["tests/test_cells.py"]),
    ("unit: ratio ×100 not %", "etdz/catalogue.py", "if float(ind.scale) == 100.0:", "if float(ind.scale) == 10.0:",
     ["tests/test_catalogue.py"]),
    ("at-risk panel: next year's bottom not counted", "etdz/reports/cards.py",
     "enters_watchlist(len(carried), 1, d)", "enters_watchlist(len(carried), 0, d)",
     ["tests/reports/test_reports_cards.py"]),
    ("whole-number tolerance 1e-9 → 1e-3", "etdz/validation/suite.py", "WHOLE_TOLERANCE = 1e-9",
     "WHOLE_TOLERANCE = 1e-3", ["tests/test_validation.py"]),
]


def run(i: int) -> str:
    name, rel, old, new, tests = MUTATIONS[i]
    path = ROOT / rel
    src = path.read_text(encoding="utf-8")
    if src.count(old) != 1:
        return f"{i + 1:2d} {name}: NOT APPLIED ({old!r} found {src.count(old)} times in {rel})"
    tests = [t for t in tests if (ROOT / t.split('::')[0]).exists()]
    try:
        path.write_text(src.replace(old, new), encoding="utf-8")
        p = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-m", "not slow", "-p", "no:cacheprovider",
                            *tests], cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(src, encoding="utf-8")
    failed = [ln.split(" - ")[0] for ln in p.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
    verdict = f"caught by {failed[0]}" if p.returncode != 0 and failed else (
        "SURVIVED" if p.returncode == 0 else f"pytest exit {p.returncode}")
    return f"{i + 1:2d} {name} [{rel}; ran {' '.join(tests)}]: {verdict}"


if __name__ == "__main__":
    picks = [int(a) - 1 for a in sys.argv[1:]] or range(len(MUTATIONS))
    for i in picks:
        print(run(i), flush=True)
