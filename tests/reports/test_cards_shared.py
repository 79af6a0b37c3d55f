"""A smaller year's cards shared with the command's spare process (its suite worker): the serial path's bytes, in
national-rank order, inside the step's commit, whatever the spare does (renders spans, fails, dies, is gone)."""

from __future__ import annotations

import os
import signal
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from etdz import processes
from etdz.commit import DeploymentLayout, atomic_write_text, step_commit
from etdz.reports import cards, prepare
from etdz.reports.cards import PARALLEL_MIN_CARDS, SHARED_MIN_CARDS, CardJob, render_cards, shares_with_spare

GENERATED = "2026-11-29 04:00 UTC"
PER_REGION = {"east": 22, "central": 14, "west": 9}  # 45 zones: five spans of ten


class ThreadSpare:
    """A spare 'process' of one thread (the scheduling without a process): counts the spans it was given;
    ``fail``: every span raises; ``gone_after``: submit returns None from that call on."""

    def __init__(self, fail: bool = False, gone_after: int | None = None) -> None:
        self.pool = ThreadPoolExecutor(1)
        self.fail, self.gone_after, self.calls, self.spans = fail, gone_after, 0, 0

    def submit(self, fn, *args) -> Future | None:
        self.calls += 1
        if self.gone_after is not None and self.calls > self.gone_after:
            return None
        if fn is cards._write_span:
            self.spans += 1
            if self.fail:
                return self.pool.submit(_raise)
        return self.pool.submit(fn, *args)


def _raise():
    raise MemoryError("the spare ran out of memory")


@pytest.fixture
def year(year_builder, catalogue_2021, monkeypatch):
    monkeypatch.setattr(cards, "freeze_imports", lambda: False)  # the thread spare runs in this process
    return prepare(year_builder(catalogue_2021, 2022, per_region=PER_REGION, years=2).inputs())


def _serial(view) -> dict[str, str]:
    return {f"{code}.html": html for code, html in render_cards(view, GENERATED)}


def _written(folder) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}


def test_which_years_are_shared():
    assert not shares_with_spare(1, SHARED_MIN_CARDS - 1)
    assert shares_with_spare(1, SHARED_MIN_CARDS) and shares_with_spare(1, 230)
    assert not shares_with_spare(1, PARALLEL_MIN_CARDS)  # a pool from there
    assert not shares_with_spare(2, 230)


def test_without_a_spare_the_cards_render_here(year, tmp_path):
    assert processes.spare() is None
    with CardJob(year, GENERATED, tmp_path) as job:
        names = job.finish()
        assert job._shared is None
    assert names == [f"{z['zone_code']}.html" for z in year.zones]
    assert _written(tmp_path) == _serial(year)


@pytest.mark.parametrize("spare", [ThreadSpare(), ThreadSpare(fail=True), ThreadSpare(gone_after=2),
                                   ThreadSpare(gone_after=0)], ids=["renders", "fails", "goes", "gone"])
def test_shared_cards_are_the_serial_bytes_in_national_rank_order(year, tmp_path, spare):
    with processes.lending(spare), CardJob(year, GENERATED, tmp_path) as job:
        names = job.finish()
    assert names == [f"{z['zone_code']}.html" for z in year.zones]
    assert _written(tmp_path) == _serial(year)
    if spare.gone_after != 0:
        assert spare.spans >= 1  # it was given work (and whatever it could not do was done here)


def test_spans_cover_every_zone_once(year, tmp_path):
    with processes.lending(ThreadSpare()), CardJob(year, GENERATED, tmp_path) as job:
        spans = job._shared.spans
        job.finish()
    assert spans[0][0] == 0 and spans[-1][1] == len(year.zones)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(stop - start >= cards._SHARED_MIN for start, stop in spans[:-1])


def _layout(tmp_path):
    return DeploymentLayout(str(tmp_path / "warehouse"), str(tmp_path / "reports"))


def test_shared_cards_in_a_step_appear_at_its_commit_and_an_error_beside_them_keeps_the_old(year, tmp_path):
    layout = _layout(tmp_path)
    zones = tmp_path / "reports" / "2022" / "zones"
    first = f"{year.zones[-1]['zone_code']}.html"  # the last span: the spare's or this process's
    atomic_write_text(zones / first, "the previous run's card")
    spare = ThreadSpare()
    with processes.lending(spare):
        with step_commit(layout.journal_dir(2022), layout.scope(2022)):
            with CardJob(year, GENERATED, zones) as job:
                names = job.finish()
            assert (zones / first).read_text() == "the previous run's card"  # staged, not in place yet
        assert sorted(p.name for p in zones.iterdir()) == sorted(names)
        done = {p.name: p.read_bytes() for p in zones.iterdir()}
        with pytest.raises(RuntimeError), step_commit(layout.journal_dir(2022), layout.scope(2022)):
            with CardJob(year, "a later run", zones):
                raise RuntimeError("the workbook failed")
    assert {p.name: p.read_bytes() for p in zones.iterdir()} == done  # nothing temporary left either
    assert spare.spans >= 1


@pytest.mark.slow
def test_the_suite_worker_renders_a_share_and_its_death_costs_no_card(year, tmp_path, monkeypatch):
    """The real spare: the command's suite worker. It renders spans of the cards (staged in the step's commit);
    killed after its first span, the rest is rendered here and every card is still the serial path's."""
    import time

    from etdz.validation.worker import suite_worker, worker_pid

    here = cards._SharedSpans._render_here

    def after_the_spares_first(self, i):  # this process waits for the spare's first span: it surely gets one
        deadline = time.monotonic() + 60
        while not any(f.done() for f in list(self._given.values())) and time.monotonic() < deadline:
            time.sleep(0.01)
        return here(self, i)

    monkeypatch.setattr(cards._SharedSpans, "_render_here", after_the_spares_first)

    layout = _layout(tmp_path)
    zones = tmp_path / "reports" / "2022" / "zones"
    with suite_worker(True) as worker:
        assert processes.spare() is worker
        with step_commit(layout.journal_dir(2022), layout.scope(2022)):
            with CardJob(year, GENERATED, zones) as job:
                names = job.finish()
        assert names == [f"{z['zone_code']}.html" for z in year.zones]
        assert _written(zones) == _serial(year)
        helped = [i for i, f in job._shared._given.items() if f.exception() is None]
        assert helped, "the worker rendered no span"

        pid = worker_pid(worker)
        with step_commit(layout.journal_dir(2022), layout.scope(2022)):
            with CardJob(year, "after the kill", zones) as job:
                deadline = time.monotonic() + 60
                while not job._shared._given and time.monotonic() < deadline:
                    time.sleep(0.01)
                first = next(iter(job._shared._given.values()))
                first.add_done_callback(lambda _: os.kill(pid, signal.SIGKILL))
                names = job.finish()
        assert names == [f"{z['zone_code']}.html" for z in year.zones]
        assert _written(zones) == {f"{code}.html": html for code, html in render_cards(year, "after the kill")}
        assert not [p for p in zones.iterdir() if p.name.startswith("_")]
    assert processes.spare() is None


def test_a_span_claimed_for_the_spare_as_this_process_runs_out_is_still_written(year, tmp_path, monkeypatch):
    """The spare's claim and the future finish() waits on are one step: finish() running out of spans while the
    spare's next one is being sent still collects it."""
    import threading

    sent, release = threading.Event(), threading.Event()
    real = cards._zones_part

    def slow_zones_part(v, start, stop):  # the spare's span is being sent: held until this process is done
        sent.set()
        release.wait(10)
        return real(v, start, stop)

    monkeypatch.setattr(cards, "_zones_part", slow_zones_part)
    here = cards._SharedSpans._render_here
    monkeypatch.setattr(cards._SharedSpans, "_render_here",
                        lambda self, i: (sent.wait(10), here(self, i))[1])
    spare = ThreadSpare()
    with processes.lending(spare), CardJob(year, GENERATED, tmp_path) as job:
        finishing = threading.Timer(0.3, release.set)  # let the send go on once finish() has run out of spans
        finishing.start()
        names = job.finish()
    assert names == [f"{z['zone_code']}.html" for z in year.zones]
    assert _written(tmp_path) == _serial(year)


def test_a_spare_that_cannot_load_the_year_gets_no_span_and_every_card_is_written_here(year, tmp_path, monkeypatch):
    """The year's file gone before the spare reads it: its load fails, it is given nothing, the cards are whole."""
    monkeypatch.setattr(CardJob, "_year_file", lambda self: str(tmp_path / "vanished" / "year.pickle"))
    spare = ThreadSpare()
    out = tmp_path / "zones"
    out.mkdir()
    with processes.lending(spare), CardJob(year, GENERATED, out) as job:
        names = job.finish()
    assert spare.spans == 0
    assert names == [f"{z['zone_code']}.html" for z in year.zones]
    assert _written(out) == _serial(year)
