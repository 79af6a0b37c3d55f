"""One zone card's CPU, split into its parts, on the report tests' synthetic year (230 zones x K).

    python bench/bench_cards.py [--scale 10] [--repeat 2] [--year 2023] [--years 5]

Renders every card serially in this process, as ``etdz.reports.cards.render_cards`` does (the levers of a chunk
of cards computed together), and prints per card the CPU (``time.process_time``) of its targets and levers
(§3.8: ``card_targets``), its context (``card_context``, the charts' markup included) and the template's render,
and the SHA-256 of all cards: a change meant to leave the cards' bytes alone must print the same digest.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reports")]

from reports_synth import make_year  # noqa: E402

from etdz.catalogue import catalogue_for_year, load_catalogues  # noqa: E402
from etdz.reports import cards  # noqa: E402
from etdz.reports.inputs import prepare  # noqa: E402
from etdz.reports.templating import environment  # noqa: E402

GENERATED = "2024-01-01 00:00"  # fixed, so the digest depends on the cards' code only


def time_cards(v, tpl) -> dict:
    """Every card of year view ``v``: CPU seconds of targets, context and render, and the digest of all cards."""
    common, groups = cards._common(v, GENERATED), cards.target_groups(v)
    spent = {"targets": 0.0, "context": 0.0, "render": 0.0}
    digest = hashlib.sha256()
    for start in range(0, len(v.zones), cards._CHUNK):
        zones = v.zones[start:start + cards._CHUNK]
        t0 = time.process_time()
        targets = cards.card_targets(v, zones, groups)
        spent["targets"] += time.process_time() - t0
        for z, t in zip(zones, targets):
            t0 = time.process_time()
            ctx = cards.card_context(v, z, common, groups, t)
            t1 = time.process_time()
            html = tpl.render(ctx)
            spent["render"] += time.process_time() - t1
            spent["context"] += t1 - t0
            digest.update(html.encode("utf-8"))
    return {**spent, "sha256": digest.hexdigest()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--years", type=int, default=5, help="years of history on record")
    ap.add_argument("--scale", type=int, default=10, help="zones per region x K (K = 10: 2,300 zones)")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args(argv)
    cat = catalogue_for_year(load_catalogues(), a.year)
    data = make_year(cat, a.year, per_region={"east": 112 * a.scale, "central": 68 * a.scale, "west": 50 * a.scale},
                     years=a.years)
    v = prepare(data.inputs())
    tpl = environment().get_template("card.html.j2")
    n = len(v.zones)
    for _ in range(a.repeat):
        r = time_cards(v, tpl)
        ms = {k: r[k] / n * 1e3 for k in ("targets", "context", "render")}
        print(f"{n} cards, per card: targets {ms['targets']:.3f} ms, context {ms['context']:.3f} ms, "
              f"render {ms['render']:.3f} ms, total {sum(ms.values()):.3f} ms; sha256 {r['sha256'][:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
