"""Zone cards rendered and written by a process pool are the serial path's cards, byte for byte, inside the step's
commit like every other output."""

from __future__ import annotations

import pytest

from etdz.commit import DeploymentLayout, atomic_write_text, step_commit
from etdz.reports import cards, prepare, write_year_reports
from etdz.reports.cards import PARALLEL_MIN_CARDS, CardJob, card_workers, render_cards

GENERATED = "2026-11-29 04:00 UTC"


@pytest.mark.slow
def test_cards_from_two_processes_are_the_serial_bytes(year_builder, catalogue_2021, tmp_path, monkeypatch):
    data = year_builder(catalogue_2021, 2022, per_region={"east": 9, "central": 7, "west": 5}, years=3)
    monkeypatch.setattr(cards, "_CHUNK", 4)  # several chunks per worker, as at 23,000 zones
    serial = write_year_reports(data.inputs(), tmp_path / "serial", generated=GENERATED, card_workers=1)
    pooled = write_year_reports(data.inputs(), tmp_path / "pooled", generated=GENERATED, card_workers=2)
    names = sorted(p.name for p in serial.cards_dir.glob("*.html"))
    assert len(names) == serial.cards == pooled.cards == 21
    assert names == sorted(p.name for p in pooled.cards_dir.glob("*.html"))
    for name in names:
        assert (pooled.cards_dir / name).read_bytes() == (serial.cards_dir / name).read_bytes(), name


@pytest.mark.slow
def test_the_pool_writes_the_serial_cards_and_lists_them_in_national_rank_order(year_builder, catalogue_2021,
                                                                               tmp_path, monkeypatch):
    data = year_builder(catalogue_2021, 2022, per_region={"east": 6, "central": 4, "west": 3}, years=2)
    view = prepare(data.inputs())
    monkeypatch.setattr(cards, "_CHUNK", 3)
    with CardJob(view, GENERATED, tmp_path, workers=2) as job:
        names = job.finish()
    assert names == [f"{z['zone_code']}.html" for z in view.zones]
    serial = dict(render_cards(view, GENERATED))
    assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()} == {
        f"{code}.html": html for code, html in serial.items()}


@pytest.mark.slow
def test_cards_a_pool_writes_in_a_step_appear_at_its_commit_and_an_error_beside_it_keeps_the_old(
        year_builder, catalogue_2021, tmp_path, monkeypatch):
    data = year_builder(catalogue_2021, 2022, per_region={"east": 6, "central": 4, "west": 3}, years=2)
    view = prepare(data.inputs())
    monkeypatch.setattr(cards, "_CHUNK", 3)
    layout = DeploymentLayout(str(tmp_path / "warehouse"), str(tmp_path / "reports"))
    zones = tmp_path / "reports" / "2022" / "zones"
    first = f"{view.zones[0]['zone_code']}.html"
    atomic_write_text(zones / first, "the previous run's card")
    with step_commit(layout.journal_dir(2022), layout.scope(2022)):
        with CardJob(view, GENERATED, zones, workers=2) as job:
            names = job.finish()
        assert (zones / first).read_text() == "the previous run's card"  # staged, not in place yet
    assert sorted(p.name for p in zones.iterdir()) == sorted(names)
    done = {p.name: p.read_bytes() for p in zones.iterdir()}
    # the workbook fails while the cards render: every card stays as it was, nothing temporary is left
    with pytest.raises(RuntimeError), step_commit(layout.journal_dir(2022), layout.scope(2022)):
        with CardJob(view, "a later run", zones, workers=2):
            raise RuntimeError("the workbook failed")
    assert {p.name: p.read_bytes() for p in zones.iterdir()} == done


def test_small_years_render_in_this_process():
    assert card_workers(230) == 1
    assert card_workers(PARALLEL_MIN_CARDS - 1) == 1
    assert card_workers(23000) >= 1


def test_the_workers_server_starts_before_the_year_is_prepared_only_for_a_pool(year_builder, catalogue_2021,
                                                                             tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(cards, "worker_context", lambda: started.append(True))
    assert cards.start_workers_early(PARALLEL_MIN_CARDS - 1) is False
    assert cards.start_workers_early(PARALLEL_MIN_CARDS, workers=1) is False
    assert started == []
    assert cards.start_workers_early(3, workers=2) is True
    assert cards.start_workers_early(PARALLEL_MIN_CARDS * 2) is (cards.cores() > 1)
    # write_year_reports asks before it prepares the year: the server imports the cards' modules meanwhile
    order = []
    monkeypatch.setattr(cards, "start_workers_early", lambda n, workers=None: order.append(("start", n, workers)))
    import etdz.reports as reports_mod

    real_prepare = reports_mod.prepare
    monkeypatch.setattr(reports_mod, "prepare", lambda inputs: order.append(("prepare",)) or real_prepare(inputs))
    data = year_builder(catalogue_2021, 2022, per_region={"east": 3, "central": 2, "west": 2}, years=2)
    write_year_reports(data.inputs(), tmp_path, generated=GENERATED, card_workers=1)
    assert order == [("start", 7, 1), ("prepare",)]


def test_a_worker_gets_the_year_once_and_each_zone_s_lookups_only_with_its_chunk(year_builder, catalogue_2021):
    data = year_builder(catalogue_2021, 2022, per_region={"east": 6, "central": 4, "west": 3}, years=2)
    view = prepare(data.inputs())
    shared = cards._shared_part(view)
    assert shared.inputs is None and dict(shared.ind_rows) == dict(shared.history_by_zone) == shared.cat_scores == {}
    assert shared.zones == view.zones and shared.bottom_years == view.bottom_years
    part = cards._zones_part(view, 3, 6)
    codes = {z["zone_code"] for z in view.zones[3:6]}
    for name in ("ind_rows", "history_by_zone", "cat_scores"):
        assert set(part[name]) == codes & set(getattr(view, name))
        assert all(repr(part[name][c]) == repr(getattr(view, name)[c]) for c in part[name])  # NaN != NaN


@pytest.mark.slow
def test_a_card_worker_freezes_the_year_it_keeps_so_collections_walk_only_the_cards(year_builder, catalogue_2021,
                                                                                    tmp_path):
    import gc
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from etdz.commit import writer_for
    from etdz.processes import worker_context

    data = year_builder(catalogue_2021, 2022, per_region={"east": 3, "central": 2, "west": 2}, years=2)
    view = prepare(data.inputs())
    year = tmp_path / "year.pickle"
    year.write_bytes(pickle.dumps((cards._shared_part(view), GENERATED)))
    ctx = worker_context()  # as CardJob starts its workers
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=cards._start_worker,
                             initargs=(str(year), str(tmp_path), writer_for(tmp_path))) as pool:
        assert pool.submit(gc.get_freeze_count).result(timeout=120) > 10_000

