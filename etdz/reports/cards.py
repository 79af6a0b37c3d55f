"""Zone report cards (结果通知书), one per ranked zone, all from one compiled template."""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import queue
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait
from pathlib import Path

from etdz.commit import Writer, adopt, atomic_write_text, writer_for
from etdz.memory import freeze_imports
from etdz.processes import Spare, cores, spare, worker_context
from etdz.rejections import NOTICES_FOLDER, deadline_text
from etdz.reports import charts
from etdz.reports.indicators_section import indicator_table_html
from etdz.reports.inputs import YearView
from etdz.reports.levers_section import levers_section_html
from etdz.reports.robustness import varied, zone_robustness
from etdz.reports.scores_section import categories_table_html, strengths_html
from etdz.reports.targets import DangerLine, TargetGroups, ZoneTargets, card_levers, zone_targets
from etdz.reports.templating import environment, region_colour, region_label
from etdz.scoring.downgrade import enters_watchlist, rule_window, window_years

STRONG_WEAK = 3


def _common(v: YearView, generated: str) -> dict:
    return {
        "data_year": v.data_year, "method": v.catalogue, "generated": generated, "categories": v.categories,
        "N": v.n_total, "provisional": v.provisional, "n_indicators": len(v.indicators),
        "results": v.results, "queries": v.queries,
        "metas": v.indicator_by_code, "robust_what": varied(v.catalogue.robustness, v.catalogue), "demo": v.demo,
        "deadline": deadline_text(v.deadline) if v.deadline else None, "notices_folder": NOTICES_FOLDER,
        "unattributed_rejected": v.unattributed_rejected,
    }


def _join_en(items: list) -> str:
    """2021 / 2021 and 2022 / 2021, 2022 and 2023."""
    items = [str(x) for x in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _risk(v: YearView, z: dict, danger: DangerLine | None) -> dict:
    """The downgrade-risk panel: the bottom-n years of §3.6 (``v.bottom_years``, from ``bottom_flags``) in the
    rule's window, and where the zone stands against this year's danger line."""
    d = v.catalogue.downgrade
    Y = v.data_year
    code = z["zone_code"]
    out = {"rule": None, "status": "none", "bottom_years": [], "window": [], "summoned": z["summoned"]}
    if d is None:
        return out
    years = v.bottom_years.get(code, [])
    window, (_, times) = window_years(Y, d), rule_window(d)
    need_next = window_years(Y + 1, d)[:-1]
    if d.rule == "national_consecutive":
        rank, group_n = z["national_rank"], v.n_total
    else:
        rank, group_n = z["regional_rank"], v.n_region.get(z["region"], 0)
    in_window = [y for y in years if y in window]
    carried = [y for y in years if y in need_next]  # still in the window of next year's assessment
    w = v.watch_by_zone.get(code)
    if z["downgrade_candidate"] or w is not None:
        status = "candidate"
    elif carried and enters_watchlist(len(carried), 1, d):  # §3.6's test, if bottom n again next year
        status = "at_risk"
    elif danger is not None and (danger.in_bottom or (danger.places_above is not None and danger.places_above <= 3)):
        status = "near"
    else:
        status = "clear"
    n = len(in_window)
    years_zh = "、".join(map(str, in_window)) + f"年，共 {n} 次" if in_window else "无"
    years_en = f"in {_join_en(in_window)}: {n} time{'s' if n != 1 else ''}" if in_window else "none"
    out.update(rule=d.rule, status=status, bottom_years=in_window, window=window, times=times, bottom_n=d.bottom_n,
               rank=rank, group_n=group_n, danger=danger, watch=w, next_year=Y + 1, years_zh=years_zh,
               years_en=years_en, enough=n >= times)
    return out


def target_groups(v: YearView) -> TargetGroups:
    """The year's target groups (:class:`etdz.reports.targets.TargetGroups`), built once for all its cards: the
    zones in the downgrade rule's bottom n this year (§3.6, ``v.bottom_years``) and every zone's rankings row."""
    return TargetGroups(v.zones, {c for c, ys in v.bottom_years.items() if v.data_year in ys})


def card_targets(v: YearView, zones: list[dict], shared: TargetGroups | None = None) -> list[ZoneTargets]:
    """The targets of ``zones`` with their levers by measure (§3.8), the zones re-scored together: a card chunk
    costs four calls of the scorer, not four per card. ``shared``: :func:`target_groups` of ``v``."""
    d = v.catalogue.downgrade
    shared = target_groups(v) if shared is None else shared
    return card_levers(v, zones, [zone_targets(z, v.totals_desc, v.zones, shared.bottom, d.rule if d else None,
                                               d.bottom_n if d else None, groups=shared) for z in zones])


def card_context(v: YearView, z: dict, common: dict, shared: TargetGroups | None = None,
                 targets: ZoneTargets | None = None) -> dict:
    """What ``card.html.j2`` renders for zone ``z``; ``shared``: :func:`target_groups` of ``v``, for all its cards;
    ``targets``: the zone's from :func:`card_targets` (computed for this card alone when not given)."""
    code, region = z["zone_code"], z["region"]
    colour = region_colour(region)
    cs = v.cat_scores.get(code, {})
    rows = v.ind_rows.get(code, [])
    metas = common["metas"]

    # ranks and their trend over every year on record
    hist = {r["data_year"]: r for r in v.history_by_zone.get(code, [])}
    years = [y for y in v.history_years if y <= v.data_year]
    counts = v.history_counts

    def series(key):
        return [hist[y][key] if y in hist else None for y in years]

    panel = charts.rank_panel
    trend = [charts.rank_panel_svg(c) for c in (
        panel("全国名次 National", years, series("national_rank"), [counts[y]["N"] for y in years], "#1f2933",
              ref_rank=100),
        panel("区域名次 Regional", years, series("regional_rank"),
              [counts[y]["region"].get(hist[y]["region"] if y in hist else region, 0) for y in years], colour),
        panel("省内名次 Provincial", years, series("provincial_rank"),
              [counts[y]["province"].get(hist[y]["province"] if y in hist else z["province"], 0) for y in years],
              "#9f1239"),
    )]
    trend_rows = [{"year": y, "national": hist[y]["national_rank"], "regional": hist[y]["regional_rank"],
                   "provincial": hist[y]["provincial_rank"], "total": hist[y]["total_score"],
                   "N": counts[y]["N"]} for y in years if y in hist]

    # categories against the national and regional averages
    reg_avg = v.cat_avg_reg.get(region, {})
    better_by_cat: dict[str, list[int]] = {}
    for r in rows:
        b = better_by_cat.setdefault(r["category_code"], [0, 0])
        b[0] += r["better_than_national_avg"]
        b[1] += 1
    cats = []
    for k in v.categories:
        s, rank = cs.get(k["code"], (None, None))
        cats.append({**k, "score": s, "rank": rank, "nat": v.cat_avg_nat.get(k["code"]), "reg": reg_avg.get(k["code"]),
                     "better": better_by_cat.get(k["code"], [0, 0])[0],
                     "count": better_by_cat.get(k["code"], [0, 0])[1]})
    bar_rows = [{"label": "总分", "sub": "Total", "value": z["total_score"], "nat": v.total_avg_nat,
                 "reg": v.total_avg_reg.get(region), "strong": True}]
    bar_rows += [{"label": c["name_zh"], "sub": f"{c['name_en'] or c['code']} · {c['weight'] * 100:g}%",
                  "value": c["score"], "nat": c["nat"], "reg": c["reg"], "strong": False} for c in cats]
    bars = charts.score_bars_svg(charts.score_bars(bar_rows, colour))

    # every indicator, grouped by category
    known = [r for r in rows if r["indicator_code"] in metas]  # rows of the catalogue's indicators
    by_cat: dict[str, list] = {}
    for r in known:
        by_cat.setdefault(r["category_code"], []).append(r)
    # the counts are the scorer's (rankings); the per-category split groups the scorer's per-indicator flags
    better_total, better_reg_total = z["indicators_better_than_avg"], z["indicators_better_than_regional_avg"]

    # the strongest and the weakest: sorted as they are, only the rows shown get their meta (a copy of each)
    strong = sorted((r for r in known if r["status"] == "ok"),
                    key=lambda r: (-_s(r["score"]), -metas[r["indicator_code"]].eff_weight, r["indicator_code"]))
    strong_codes = {r["indicator_code"] for r in strong[:STRONG_WEAK]}
    weak = sorted((r for r in known if r["indicator_code"] not in strong_codes),
                  key=lambda r: (_s(r["score"]), -metas[r["indicator_code"]].eff_weight, r["indicator_code"]))
    strong, weak = ([{**r, "meta": metas[r["indicator_code"]]} for r in part[:STRONG_WEAK]] for part in (strong, weak))

    d = v.catalogue.downgrade
    shared = target_groups(v) if shared is None else shared
    if targets is None:
        targets = card_targets(v, [z], shared)[0]
    robust = None if v.robust_by_zone is None else zone_robustness(
        v.robust_by_zone.get(code), z, v.n_total, d, code in v.region_bottom_now, code in v.watch_by_zone, colour,
        common["robust_what"])
    risk = _risk(v, z, targets.danger)
    return {
        **common, "z": z, "region_label": region_label(region), "colour": colour, "trend": trend,
        "trend_rows": trend_rows, "bars": bars, "better_total": better_total,
        "better_reg_total": better_reg_total, "n_rows": z["indicators_total"],
        "risk": risk, "levers": levers_section_html(targets, metas, risk.get("bottom_n")),
        "indicators": indicator_table_html(cats, by_cat, metas, better_total, z["indicators_total"]),
        "categories": categories_table_html(z, cats, v.total_avg_nat, v.total_avg_reg.get(region), better_total,
                                            z["indicators_total"]),
        "strengths": strengths_html(strong, weak),
        "n_region": v.n_region.get(region, 0),
        "n_province": v.n_province.get(z["province"], 0), "total_avg": v.total_avg_nat,
        "total_reg_avg": v.total_avg_reg.get(region), "history_n": len(trend_rows),
        "robust": robust, "robust_computed": v.robust_by_zone is not None,
        "rejected_files": (v.rejected_by_zone or {}).get(code, []),
    }


def _s(x) -> float:
    return x if x is not None and math.isfinite(x) else 0.0


# Below this many cards a process pool costs more than it saves: each worker starts from the forkserver
# (etdz.reports preloaded) and receives the year (~3 MB pickled at 230 zones) before its first card, and one
# card renders in ~2 ms.
PARALLEL_MIN_CARDS = 2000
_CHUNK = 250  # cards per task: few round trips, small enough to keep both workers busy to the end
# Below PARALLEL_MIN_CARDS, the command's spare process (etdz.processes.spare: its suite worker, already running)
# renders a share of the cards while this process writes the other reports and then renders the rest: spans of at
# least _SHARED_MIN cards, about _SHARED_SPANS of them, each taken by whichever process is free first.
SHARED_MIN_CARDS = 40
_SHARED_SPANS = 8
_SHARED_MIN = 10


def card_workers(n_cards: int) -> int:
    """How many processes render ``n_cards`` cards: the cores this process may use, 1 below PARALLEL_MIN_CARDS."""
    if n_cards < PARALLEL_MIN_CARDS:
        return 1
    return max(1, min(cores(), n_cards // _CHUNK))


def start_workers_early(n_cards: int, workers: int | None = None) -> bool:
    """Start the card workers' server (its modules imported, :func:`etdz.processes.worker_context`) now, when
    ``n_cards`` cards will render in a pool (``workers``: as :class:`CardJob` is given): it imports them on another
    core while this process prepares the year, rather than after. True when it was started."""
    if (card_workers(n_cards) if workers is None else workers) <= 1:
        return False
    worker_context()
    return True


def render_cards(v: YearView, generated: str) -> Iterator[tuple[str, str]]:
    """Yield ``(zone_code, html)`` for every ranked zone, in national-rank order, from one compiled template, in
    this process (:class:`CardJob` spreads a large year over a process pool)."""
    tpl = environment().get_template("card.html.j2")
    common, groups = _common(v, generated), target_groups(v)
    for start in range(0, len(v.zones), _CHUNK):  # the levers of a chunk of cards are computed together
        yield from _span_html(v, v.zones[start:start + _CHUNK], tpl, common, groups)


def _span_html(v: YearView, zones: list[dict], tpl, common: dict, groups: TargetGroups) -> Iterator[tuple[str, str]]:
    """``(zone_code, html)`` of each of ``zones`` (a span of ``v.zones``), their levers computed together."""
    for z, t in zip(zones, card_targets(v, zones, groups)):
        yield z["zone_code"], tpl.render(card_context(v, z, common, groups, t))


def card_name(code: str) -> str:
    """The file name of zone ``code``'s card in the year's ``zones/`` folder."""
    return f"{code}.html"


class CardJob:
    """The year's cards, written to ``folder`` (``<code>.html``, each through the project's atomic write).

    ``workers``: processes rendering them (default :func:`card_workers`). With one, :meth:`finish` renders them in
    this process. With more, a ``with`` block starts them in a process pool on entry — the caller writes the
    year's other reports meanwhile — and :meth:`finish` waits for them: each worker renders chunks of zones and
    writes their cards itself through a :class:`etdz.commit.Writer` (inside a step's commit it stages them and
    this process adopts them), so no card travels back through a pipe. A card depends only on the year and its
    zone: the bytes are the serial path's. Leaving the block on an error cancels the chunks not started.
    """

    def __init__(self, v: YearView, generated: str, folder: Path, workers: int | None = None):
        self.v, self.generated, self.folder = v, generated, Path(folder)
        self.workers = card_workers(len(v.zones)) if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._shared: _SharedSpans | None = None  # with the command's spare process (one worker, a smaller year)
        self._feeder: threading.Thread | None = None
        self._chunks: queue.Queue = queue.Queue()  # the chunks' futures in order, then None (or an exception)
        self._window = threading.Semaphore(self.workers + 1)
        self._stop = threading.Event()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._started = 0.0
        self.seconds = 0.0  # the cards' wall time: with a pool, from its start to the last card

    def __enter__(self) -> CardJob:
        if self.workers > 1:
            self._start()
        elif shares_with_spare(self.workers, len(self.v.zones)) and (helper := spare()) is not None:
            self._shared = _SharedSpans.start(self, helper)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._shared is not None:
            self._shared.stop(wait=True)
        if self._feeder is not None:
            self._stop.set()
            self._window.release()  # a feeder waiting for room wakes up and stops
            self._feeder.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)
        if self._tmp is not None:
            self._tmp.cleanup()

    def _year_file(self) -> str:
        """What every card reads, for other processes: one file, pickled as a stream, not one in-memory copy per
        worker. What only one zone's card reads (its indicator rows, ranks on record, category scores: most of a
        large year) travels with the zone's chunk (:func:`_zones_part`), so a worker holds one chunk of it at a
        time."""
        self._started = time.perf_counter()
        self._tmp = tempfile.TemporaryDirectory(prefix="etdz-cards-")
        year = os.path.join(self._tmp.name, "year.pickle")
        with open(year, "wb") as fh:
            pickle.dump((_shared_part(self.v), self.generated), fh, protocol=pickle.HIGHEST_PROTOCOL)
        return year

    def _start(self) -> None:
        ctx = worker_context()  # the project's forkserver (etdz.processes), the cards' modules preloaded
        year = self._year_file()
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_start_worker,
                                         initargs=(year, str(self.folder), writer_for(self.folder)))
        self._feeder = threading.Thread(target=self._feed, name="etdz-card-chunks", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        """Submit the chunks in order, at most one per worker waiting: a chunk's lookups are built (from the year's
        frames) only when it is next, so this process never holds them for the whole year."""
        v = self.v
        try:
            for i in range(0, len(v.zones), _CHUNK):
                self._window.acquire()
                if self._stop.is_set():
                    return
                future = self._pool.submit(_write_span, i, min(i + _CHUNK, len(v.zones)),
                                           _zones_part(v, i, min(i + _CHUNK, len(v.zones))))
                future.add_done_callback(lambda _: self._window.release())
                self._chunks.put(future)
        except BaseException as exc:  # a chunk's lookups failed, or the pool broke: finish() raises it
            self._chunks.put(exc)
        finally:
            self._chunks.put(None)

    def finish(self) -> list[str]:
        """Wait for every card (render them here with one worker); their file names, in national-rank order."""
        names = []
        if self._shared is not None:
            names = self._shared.finish()
        elif self._pool is None:
            self._started = time.perf_counter()
            for code, html in render_cards(self.v, self.generated):
                atomic_write_text(self.folder / card_name(code), html)
                names.append(card_name(code))
        else:
            while (chunk := self._chunks.get()) is not None:
                if isinstance(chunk, BaseException):
                    raise chunk
                for name, staged in chunk.result():
                    adopt(self.folder / name, staged)
                    names.append(name)
        self.seconds = time.perf_counter() - self._started
        return names


_WORKER: dict = {}
# the YearView fields a card reads only for its own zone (card_context)
_PER_ZONE = ("ind_rows", "history_by_zone", "cat_scores", "measures_by_zone", "prev_measures_by_zone")


def _shared_part(v: YearView) -> YearView:
    """The year without the per-zone lookups and without its input frames (cards read neither of another zone)."""
    return dataclasses.replace(v, inputs=None, **{name: {} for name in _PER_ZONE})


def _zones_part(v: YearView, start: int, stop: int) -> dict[str, dict]:
    """The per-zone lookups of the zones ``start:stop`` (national-rank order)."""
    codes = [z["zone_code"] for z in v.zones[start:stop]]
    out = {}
    for name in _PER_ZONE:
        lookup = getattr(v, name)
        out[name] = {c: lookup[c] for c in codes if c in lookup}
    return out


def _start_worker(year: str, folder: str, writer: Writer) -> None:
    """Pool initializer: the year (from the parent's pickle file), the template, the common context, the writer."""
    with open(year, "rb") as fh:
        v, generated = pickle.load(fh)
    _WORKER.update(v=v, tpl=environment().get_template("card.html.j2"), common=_common(v, generated),
                   groups=target_groups(v), folder=Path(folder), writer=writer)
    # The year is kept for the worker's life: frozen with the imports, the interpreter's collections (every few
    # hundred of a card's allocations) walk only what the cards create, not the whole year each time.
    freeze_imports()


def _write_span(start: int, stop: int, zones_part: dict[str, dict]) -> list[tuple[str, str | None]]:
    """Render and write the cards of the zones ``start:stop``; (file name, staged name) of each."""
    tpl, common, groups, writer = _WORKER["tpl"], _WORKER["common"], _WORKER["groups"], _WORKER["writer"]
    v = dataclasses.replace(_WORKER["v"], **zones_part)
    out = []
    for code, html in _span_html(v, v.zones[start:stop], tpl, common, groups):
        name = card_name(code)
        out.append((name, writer.write(_WORKER["folder"] / name, html.encode("utf-8"))))
    return out


def shares_with_spare(workers: int, n_cards: int) -> bool:
    """Whether a :class:`CardJob` of ``workers`` (one: this process) shares its ``n_cards`` cards with the command's
    spare process when there is one: from :data:`SHARED_MIN_CARDS` (fewer render here before a span would come
    back) to :data:`PARALLEL_MIN_CARDS` (from there, a pool)."""
    return workers == 1 and SHARED_MIN_CARDS <= n_cards < PARALLEL_MIN_CARDS


class _SharedSpans:
    """A year's cards shared between this process and the command's spare process (:func:`etdz.processes.spare`).

    The cards are cut into spans. The spare process loads the year (:func:`_start_worker`) and then takes one span
    after another (:func:`_write_span`, staging them as a pool worker does) while this process writes the year's
    other reports; :meth:`finish` then renders the spans left here and collects the spare's. A span the spare
    could not give (it died, was stopped, or failed) is rendered here: the cards are the same bytes either way."""

    def __init__(self, job: CardJob, helper: Spare, spans: list[tuple[int, int]]) -> None:
        self.job, self.helper, self.spans = job, helper, spans
        self._lock = threading.Lock()
        self._next = 0
        self._stopped = False
        self._given: dict[int, Future] = {}  # span → the spare's future
        self._here: tuple | None = None  # (template, common context, target groups) of this process

    @classmethod
    def start(cls, job: CardJob, helper: Spare) -> _SharedSpans | None:
        """Load the year in ``helper`` and give it its first span; None when it is gone (all render here)."""
        n = len(job.v.zones)
        size = max(_SHARED_MIN, math.ceil(n / _SHARED_SPANS))
        shared = cls(job, helper, [(i, min(i + size, n)) for i in range(0, n, size)])
        loaded = helper.submit(_start_worker, job._year_file(), str(job.folder), writer_for(job.folder))
        if loaded is None:
            return None
        # its first span only once it holds the year: a spare still importing the cards' modules (a command's
        # first year) must not hold back a span this process would render meanwhile
        loaded.add_done_callback(shared._give)
        return shared

    def _claim(self, for_spare: bool = False) -> tuple[int, Future | None] | None:
        """The next span, and for the spare the future :meth:`finish` waits on, recorded in the same step: a span
        claimed for the spare is never missed by a :meth:`finish` that has just run out of spans."""
        with self._lock:
            if self._stopped or self._next >= len(self.spans):
                return None
            self._next += 1
            i = self._next - 1
            if not for_spare:
                return i, None
            self._given[i] = Future()
            return i, self._given[i]

    def _give(self, _done: Future | None = None) -> None:
        """The spare's next span (called, from the pool's thread, as it has loaded the year and as each span is
        done)."""
        if _done is not None and (_done.cancelled() or _done.exception() is not None):
            return  # it failed (or died): no more for it; finish() renders its span here
        claimed = self._claim(for_spare=True)
        if claimed is None:
            return
        i, given = claimed
        start, stop = self.spans[i]
        try:
            future = self.helper.submit(_write_span, start, stop, _zones_part(self.job.v, start, stop))
        except Exception as exc:  # noqa: BLE001 - whatever it is, finish() renders the span here
            future = _failed(exc)
        if future is None:  # the spare is gone
            future = _failed(BrokenPipeError("the spare process is gone"))
        future.add_done_callback(lambda done: _pass_on(done, given))
        given.add_done_callback(self._give)

    def _render_here(self, i: int) -> list[str]:
        v = self.job.v
        if self._here is None:
            self._here = (environment().get_template("card.html.j2"), _common(v, self.job.generated),
                          target_groups(v))
        start, stop = self.spans[i]
        names = []
        for code, html in _span_html(v, v.zones[start:stop], *self._here):
            atomic_write_text(self.job.folder / card_name(code), html)
            names.append(card_name(code))
        return names

    def finish(self) -> list[str]:
        """Every card's file name, in national-rank order, once all are written (or staged and adopted)."""
        by_span: dict[int, list[str]] = {}
        while (claimed := self._claim()) is not None:
            by_span[claimed[0]] = self._render_here(claimed[0])
        self.stop()
        with self._lock:
            given = dict(self._given)
        for i, future in given.items():
            try:
                written = future.result()
            except Exception:  # noqa: BLE001 - the spare died or failed: the span is rendered here
                by_span[i] = self._render_here(i)
                continue
            for name, staged in written:
                adopt(self.job.folder / name, staged)
            by_span[i] = [name for name, _ in written]
        return [name for i in sorted(by_span) for name in by_span[i]]

    def stop(self, *, wait: bool = False) -> None:
        """No span is given to the spare from now on; ``wait``: and the one it has is done (a step failing
        leaves the spare writing nothing after the commit is abandoned)."""
        with self._lock:
            self._stopped = True
            given = list(self._given.values())
        if wait:
            futures_wait(given)


def _pass_on(done: Future, to: Future) -> None:
    """``to`` gets ``done``'s result or exception."""
    if done.cancelled():
        to.set_exception(BrokenPipeError("the spare's span was cancelled"))
    elif done.exception() is not None:
        to.set_exception(done.exception())
    else:
        to.set_result(done.result())


def _failed(exc: BaseException) -> Future:
    future: Future = Future()
    future.set_exception(exc)
    return future
