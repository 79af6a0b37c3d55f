"""Reports people read (issue 5; docs/contract/04-outputs.md §4.2): the national report, the zone report cards
(结果通知书) and the ranking workbook, written under ``<reports_root>/<data_year>/``.

Entry point::

    outputs = write_year_reports(ReportInputs(...), reports_root)

Everything is self-contained (inline CSS and SVG, a Content-Security-Policy that forbids any fetch),
rendered with autoescaping Jinja2 templates (zone names are untrusted), and written atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from etdz.commit import atomic_write_text, remove
from etdz.reports.inputs import ReportInputs, YearView, prepare

__all__ = ["ReportInputs", "ReportOutputs", "write_year_reports", "prepare"]



@dataclass
class ReportOutputs:
    national_report: Path
    workbook: Path
    cards_dir: Path
    cards: int
    top30_markdown: str      # markdown preview of the top 30 for Dagster metadata
    seconds: dict[str, float] = field(default_factory=dict)  # time per output


def write_year_reports(inputs: ReportInputs, reports_root: str | Path, *, generated: str | None = None,
                       prune_stale_cards: bool = True, card_workers: int | None = None) -> ReportOutputs:
    """Write ``national_report.html``, ``zones/<zone_code>.html`` for every ranked zone and
    ``rankings.xlsx`` under ``<reports_root>/<data_year>/``; each file atomically.

    ``generated``: the time stamp printed in the footers (default: now, UTC). ``prune_stale_cards``:
    remove cards of zones no longer ranked that year (a re-run after a registry change). ``card_workers``:
    processes rendering the cards (default: the cores, from 2,000 cards on; see :class:`cards.CardJob`).
    """
    from etdz.reports import cards, national, workbook

    t0 = time.perf_counter()
    out_dir = Path(reports_root) / str(int(inputs.data_year))
    zones_dir = out_dir / "zones"
    zones_dir.mkdir(parents=True, exist_ok=True)
    generated = generated or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    seconds: dict[str, float] = {}

    cards.start_workers_early(len(inputs.rankings), card_workers)
    view: YearView = prepare(inputs)
    seconds["prepare"] = time.perf_counter() - t0

    # From 2,000 cards they render in a process pool (cards.CardJob) while this process writes the national report
    # and the workbook; below that, one after the other here.
    with cards.CardJob(view, generated, zones_dir, workers=card_workers) as job:
        t = time.perf_counter()
        national_path = atomic_write_text(out_dir / "national_report.html", national.render(view, generated))
        top30 = national.top30_markdown(view)
        seconds["national_report"] = time.perf_counter() - t

        t = time.perf_counter()
        wb_path = workbook.write(view, out_dir / "rankings.xlsx")
        seconds["workbook"] = time.perf_counter() - t

        written = set(job.finish())
    if prune_stale_cards:
        for p in zones_dir.glob("*.html"):
            if p.name not in written and not p.name.startswith(("_", ".")):
                remove(p)
    seconds["cards"] = job.seconds  # with a pool: from its start to the last card
    seconds["total"] = time.perf_counter() - t0
    return ReportOutputs(national_report=national_path, workbook=wb_path, cards_dir=zones_dir, cards=len(written),
                         top30_markdown=top30, seconds=seconds)
