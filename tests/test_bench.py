"""Smoke test of the benchmark command (bench/run.py) at a tiny size: it runs and writes valid JSON.

No timing is asserted: the figures depend on the machine; docs/benchmarks.md holds them.
"""

from __future__ import annotations

import json
import os
import pstats
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_runs_at_50_zones_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "50", "--skip-demo",
                           "--floor-repeat", "1", "--out", str(out), "--workdir", str(tmp_path / "work")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "targets:" in proc.stdout and "ratio pipeline / floor" in proc.stdout

    res = json.loads(out.read_text(encoding="utf-8"))
    for key in ("date", "machine", "imports", "sizes", "slopes", "demo", "targets", "notes"):
        assert key in res
    assert res["demo"] is None  # --skip-demo
    assert res["machine"]["nproc"] >= 1 and res["machine"]["python"]
    [size] = res["sizes"]
    assert size["zones"] == 50 and size["files"] == 100  # Y and Y-1
    assert size["run_status"] == "SUCCESS"
    for key in ("wall_s", "cpu_s", "user_s", "sys_s", "peak_rss_mb", "pipeline_ingest_validate_score_s", "ratio"):
        assert isinstance(size[key], (int, float)) and size[key] > 0, key
    assert 0 < size["sampled_peak_tree_pss_mb"] <= size["sampled_peak_tree_rss_mb"]
    stages = size["stages"]
    for key in ("imports_s", "ingest_validate_s", "score_s", "reports_s", "dagster_overhead_s", "startup_s"):
        assert isinstance(stages[key], (int, float)), key
    assert stages["ingest_validate_s"] + stages["score_s"] + stages["reports_s"] < size["wall_s"]
    floor = size["floor"]
    for key in ("read_s", "validate_s", "score_s", "total_s"):
        assert floor[key] >= 0
    assert floor["files"] == 50 and floor["rejected"] == 0 and floor["zones_ranked"] == 50
    assert {t["result"] for t in res["targets"]} <= {"PASS", "FAIL", "n/a"}
    assert len(res["targets"]) == 8
    # the temp folders are removed unless --keep
    assert not any((tmp_path / "work").glob("etdz-bench-*"))


@pytest.mark.slow
def test_the_console_entry_can_be_profiled(tmp_path):
    """`python -m cProfile … pipelines.cli` writes a profile: under a profiler the entry returns instead of
    leaving with os._exit (which skipped the profiler's own exit and left `bench/run.py --profile` empty)."""
    prof = tmp_path / "init.prof"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETDZ_") and k != "DAGSTER_HOME"}
    env.update({"ETDZ_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)})
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pipelines.cli", "init"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "home" / "etdz.toml").exists()
    functions = {(Path(file).name, name) for file, _, name in pstats.Stats(str(prof)).stats}
    assert ("cli.py", "cmd_init") in functions and ("cli.py", "entry") in functions


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="Linux >= 4.14 (smaps_rollup)")
def test_the_sampler_counts_a_child_in_the_tree_and_its_pss_every_fifth_sample():
    import threading
    import time

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from run import PSS_EVERY, _peak_pss, _pss_mb, _sample_rss
    finally:
        sys.path.remove(str(ROOT / "bench"))
    # a child holding 64 MB of its own: in the tree's RSS sum and its PSS sum, not in this process's own RSS
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; b = bytearray(64 << 20); "
                              "b[::4096] = b'x' * len(b[::4096]); print('up', flush=True); time.sleep(30)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "up"
        samples: list = []
        stop = threading.Event()
        sampler = threading.Thread(target=_sample_rss, args=(os.getpid(), samples, stop, 0.02))
        sampler.start()
        time.sleep(0.5)
        stop.set()
        sampler.join()
        own_pss = _pss_mb(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert len(samples) > PSS_EVERY
    assert [s[3] is not None for s in samples[:PSS_EVERY + 1]] == [True] + [False] * (PSS_EVERY - 1) + [True]
    _, own, tree, pss = samples[0]
    assert tree - own > 60 and pss - own_pss > 50  # the child's 64 MB, in both sums
    assert _peak_pss(samples) == round(max(s[3] for s in samples if s[3] is not None), 1)
    assert _peak_pss([(0.0, 1.0, 1.0, None)]) is None


def test_bench_cards_times_every_card_and_its_digest_follows_the_cards():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_cards
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from reports_synth import make_year  # bench_cards puts tests/reports on the path, as the report tests have it

    from etdz.catalogue import catalogue_for_year, load_catalogues
    from etdz.reports.inputs import prepare
    from etdz.reports.templating import environment

    cat = catalogue_for_year(load_catalogues(), 2023)
    v = prepare(make_year(cat, 2023, per_region={"east": 3, "central": 2, "west": 2}, years=2).inputs())
    tpl = environment().get_template("card.html.j2")
    first, again = bench_cards.time_cards(v, tpl), bench_cards.time_cards(v, tpl)
    assert first["sha256"] == again["sha256"]
    assert all(first[k] > 0 for k in ("targets", "context", "render"))
    # another template, other bytes: the digest is of what was rendered
    assert bench_cards.time_cards(v, environment().from_string("{{ z.zone_code }}"))["sha256"] != first["sha256"]
