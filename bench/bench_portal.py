"""The portal under the deadline-day load (issue 20): N zones submitting at once to its real server on loopback.

    python bench/bench_portal.py                       # 50 zones at once, SQLite portal database under a temp home
    python bench/bench_portal.py --zones 50 --out bench/results/portal_50.json
    python bench/bench_portal.py --database postgresql://user:pw@127.0.0.1:5432/etdz_portal   # an empty database
    python bench/bench_portal.py --keep                # keep the temp folder (its portal.log, inbox, database)

What happens:

* a temp home gets the demo's registry and files (``demo.write_demo`` for the open year and the one before; the
  year before is put in the inbox, so the year-on-year and consistency checks run as they do for real);
  the open year's deadline is set to today (``ETDZ_DEADLINES``): the deadline day;
* N due zones are taken whose demo file for the open year has no error (checked beforehand with
  :class:`etdz.checking.Checker`, outside the server), each gets its own zone account and API token
  (``portal.accounts``, the functions `etdz accounts add` / `token` call);
* `etdz portal` (waitress, its threads sharing one warm checker) is started on a free 127.0.0.1 port, and
  one check of a file the zones do not send warms it up as a user would not;
* **sequential**: every zone's file is checked once, one after the other (``POST /api/v1/validate``): the warm
  check's latency with nobody else on the server;
* **burst**: N threads, one per zone, each with its own token, wait on a barrier and then all at once check
  their file and submit it (``POST /api/v1/submissions``, explaining every warning the check reported);
* **recorded once, none lost**: the portal's database (its ``portal_submission`` table, read directly) has
  exactly N submissions, one per zone, each with the SHA-256 of the file sent; the inbox has exactly N files,
  ``<zone>_<sha256[:12]>.csv|xlsx``, each byte-identical to what the zone sent; the reviewer's
  ``GET /api/v1/submissions`` lists the same N; and no submission is late (the deadline day is inclusive).

Printed: latencies (median, p90, worst) of the check sequentially and under the burst, of the submission under the
burst, the burst's wall time, the counts, the 1-minute load average before and after (this 2-core machine is
shared: latencies move with it). Nothing is asserted beyond "recorded once, none lost" (exit 1 otherwise);
docs/benchmarks.md holds the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.portal.servers import add_accounts, clean_env, open_year, portal_server  # noqa: E402


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank rule."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1), "p90_ms": round(pct(ms, 0.9), 1),
            "max_ms": round(max(ms), 1), "min_ms": round(min(ms), 1)}


def pick_files(demo: Path, settings, year: int, n: int) -> list[tuple[str, Path]]:
    """N due zones with one demo file for ``year`` that the run would accept: [(zone_code, file)]."""
    from etdz.checking import Checker
    from etdz.registry import due_zones, load_registry

    manifest = json.loads((demo / "demo_manifest.json").read_text(encoding="utf-8"))
    special = {s["zone_code"] for s in manifest.get("scenarios", [])}
    due = set(due_zones(load_registry(str(demo / "registry.csv")), year).zone_code)
    paths = sorted((demo / "inbox" / str(year)).iterdir())
    by_zone: dict[str, list[tuple[Path, object]]] = {}
    for path, r in zip(paths, Checker(settings).check_files(paths)):  # one batch, as `etdz validate FILE…`
        if r.zone_code:
            by_zone.setdefault(r.zone_code, []).append((path, r))
    out = []
    for zone in sorted(by_zone):
        files = by_zone[zone]
        if zone in due and zone not in special and len(files) == 1 and not files[0][1].rejected:
            out.append((zone, files[0][0]))
    if len(out) < n:
        raise SystemExit(f"only {len(out)} zones have one clean demo file for {year}; ask for --zones {len(out)}")
    return out[:n]


def explanations_for(issues: list[dict]) -> dict[str, str]:
    """An explanation for every warning the check reported, under the portal's key ``"<check>:<row>"``."""
    return {f"{i['check']}:{'' if i.get('row') is None else i['row']}": "已与统计部门核实 / checked with the bureau"
            for i in issues if i["severity"] == "warning"}


class Client(threading.Thread):
    """One zone: waits on the barrier, then checks its file and submits it."""

    def __init__(self, base: str, token: str, zone: str, path: Path, barrier: threading.Barrier):
        super().__init__(name=f"zone-{zone}")
        import requests

        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.base, self.zone, self.path, self.barrier = base, zone, path, barrier
        self.data = path.read_bytes()
        self.check_ms = self.submit_ms = None
        self.result: dict = {}
        self.error: str | None = None

    def post(self, path: str, **kw):
        return self.session.post(self.base + path, files={"file": (self.path.name, self.data)}, timeout=300, **kw)

    def run(self) -> None:
        try:
            self.barrier.wait(timeout=120)
            t0 = time.perf_counter()
            r = self.post("/api/v1/validate")
            self.check_ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"validate answered {r.status_code}: {r.text[:300]}")
            explain = explanations_for(r.json()["issues"])
            t0 = time.perf_counter()
            r = self.post("/api/v1/submissions", data={"explanations": json.dumps(explain, ensure_ascii=False)})
            self.submit_ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 201:
                raise RuntimeError(f"submit answered {r.status_code}: {r.text[:500]}")
            self.result = r.json()
        except Exception as exc:  # reported per zone: one failure must not hide the others
            self.error = f"{type(exc).__name__}: {exc}"


def db_submissions(settings, database: str | None) -> list[tuple[str, str, int]]:
    """(zone_code, sha256, data_year) of every submission in the portal's database, read without Django."""
    sql = "SELECT zone_code, sha256, data_year FROM portal_submission ORDER BY zone_code"
    if database:
        import psycopg2

        conn = psycopg2.connect(database)
    else:
        conn = sqlite3.connect(Path(settings.home) / "portal" / "portal.sqlite3")
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zones", type=int, default=50, help="zones submitting at once (default 50)")
    ap.add_argument("--database", default="", help="a PostgreSQL URL of an empty database (default: SQLite)")
    ap.add_argument("--out", help="write the figures as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = ap.parse_args(argv)

    from demo import write_demo
    from etdz.settings import Settings

    root = Path(tempfile.mkdtemp(prefix="etdz-bench-portal-"))
    year = open_year()
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    try:
        t0 = time.perf_counter()
        write_demo(root / "demo", years=range(year - 1, year + 1))
        shutil.copytree(root / "demo" / "inbox" / str(year - 1), root / "inbox" / str(year - 1))
        env = clean_env(ETDZ_HOME=str(root / "home"), ETDZ_REGISTRY=str(root / "demo" / "registry.csv"),
                        ETDZ_INBOX=str(root / "inbox"), ETDZ_WAREHOUSE=str(root / "warehouse"),
                        ETDZ_REPORTS=str(root / "reports"), DAGSTER_HOME=str(root / "dagster_home"),
                        ETDZ_DEADLINES=f"{year}={today.isoformat()}")
        if args.database:
            env["ETDZ_PORTAL_DATABASE"] = args.database
        settings = Settings.from_env(env)
        picked = pick_files(root / "demo", settings, year, args.zones)
        warm_file = next(p for p in sorted((root / "demo" / "inbox" / str(year)).iterdir())
                         if p not in {f for _, f in picked})
        accounts = [{"username": f"zone-{z}", "role": "zone", "zone": z} for z, _ in picked]
        accounts.append({"username": "bench-reviewer", "role": "reviewer"})
        tokens = add_accounts(env, root, accounts)
        setup_s = time.perf_counter() - t0
        print(f"setup: demo files, {len(picked)} zones with a clean file for {year}, {len(accounts)} accounts "
              f"in {setup_s:.1f} s; deadline {year} = {today} (today, Beijing)", flush=True)

        with portal_server(env, root) as base:
            import requests

            first = Client(base, tokens[0], picked[0][0], warm_file, threading.Barrier(1))
            t = time.perf_counter()
            first.post("/api/v1/validate")  # the first check after start-up (another zone's file: not sent later)
            first_ms = (time.perf_counter() - t) * 1000
            sequential = []
            cpu0 = base.cpu_seconds()
            for (zone, path), token in zip(picked, tokens):
                c = Client(base, token, zone, path, threading.Barrier(1))
                t = time.perf_counter()
                r = c.post("/api/v1/validate")
                sequential.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and r.json()["ok"], (zone, r.status_code, r.text[:300])
            cpu_per_check_ms = (base.cpu_seconds() - cpu0) / len(picked) * 1000
            load_before = os.getloadavg()[0]
            barrier = threading.Barrier(len(picked))
            clients = [Client(base, token, zone, path, barrier) for (zone, path), token in zip(picked, tokens)]
            t = time.perf_counter()
            for c in clients:
                c.start()
            for c in clients:
                c.join()
            burst_s = time.perf_counter() - t
            burst_cpu_s = base.cpu_seconds() - cpu0 - cpu_per_check_ms * len(picked) / 1000
            load_after = os.getloadavg()[0]
            listed = requests.get(f"{base}/api/v1/submissions?data_year={year}", timeout=120,
                                  headers={"Authorization": f"Bearer {tokens[-1]}"}).json()

        failures = {c.zone: c.error for c in clients if c.error}
        sent = {c.zone: hashlib.sha256(c.data).hexdigest() for c in clients}
        rows = db_submissions(settings, args.database)
        inbox = sorted((root / "inbox" / str(year)).iterdir()) if (root / "inbox" / str(year)).exists() else []
        problems = [f"{z}: {e}" for z, e in sorted(failures.items())]
        if sorted((z, s) for z, s, _ in rows) != sorted(sent.items()):
            problems.append(f"database: {len(rows)} submissions, {len({z for z, _, _ in rows})} zones; expected "
                            f"exactly one per zone ({len(sent)}) with the SHA-256 sent")
        expected_names = {f"{z}_{s[:12]}" for z, s in sent.items()}
        if sorted(p.stem for p in inbox) != sorted(expected_names) or len(inbox) != len(sent):
            problems.append(f"inbox: {len(inbox)} files; expected {len(sent)} named <zone>_<sha256[:12]>")
        for p in inbox:
            zone = p.stem.rsplit("_", 1)[0]
            if zone in sent and hashlib.sha256(p.read_bytes()).hexdigest() != sent[zone]:
                problems.append(f"inbox: {p.name} differs from what {zone} sent")
        if sorted(r["sha256"] for r in listed) != sorted(sent.values()):
            problems.append(f"GET /api/v1/submissions lists {len(listed)} submissions, expected {len(sent)}")
        late = [c.zone for c in clients if c.result.get("late")]
        if late:
            problems.append(f"flagged late on the deadline day: {', '.join(late)}")

        ok = [c for c in clients if not c.error]
        figures = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "zones": len(picked), "data_year": year,
            "database": "postgresql" if args.database else "sqlite", "nproc": os.cpu_count(),
            "load_1min_before_burst": round(load_before, 2), "load_1min_after_burst": round(load_after, 2),
            "first_check_after_start_ms": round(first_ms, 1),
            "check_sequential": summary(sequential),
            "server_cpu_per_check_ms": round(cpu_per_check_ms, 1),  # load-independent: the server's CPU per check
            "server_cpu_burst_s": round(burst_cpu_s, 2),
            "check_burst": summary([c.check_ms for c in ok]) if ok else None,
            "submit_burst": summary([c.submit_ms for c in ok]) if ok else None,
            "burst_wall_s": round(burst_s, 2),
            "recorded": {"database": len(rows), "inbox_files": len(inbox), "api_listed": len(listed),
                         "failed_clients": len(failures), "late": len(late)},
            "warnings_explained": sum(len(c.result.get("issues") or []) for c in ok),
            "problems": problems,
        }
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        cs, cb, sb = figures["check_sequential"], figures["check_burst"], figures["submit_burst"]
        print(f"\ncheck, one at a time:   median {cs['median_ms']:.0f} ms, p90 {cs['p90_ms']:.0f} ms, "
              f"worst {cs['max_ms']:.0f} ms ({cs['n']} files); the server's CPU {cpu_per_check_ms:.0f} ms per check "
              f"(1-minute load {load_before:.1f} on {os.cpu_count()} cores)")
        if cb and sb:
            print(f"check, {len(picked)} at once:     median {cb['median_ms']:.0f} ms, p90 {cb['p90_ms']:.0f} ms, "
                  f"worst {cb['max_ms']:.0f} ms")
            print(f"submit, {len(picked)} at once:    median {sb['median_ms']:.0f} ms, p90 {sb['p90_ms']:.0f} ms, "
                  f"worst {sb['max_ms']:.0f} ms; the whole burst {burst_s:.1f} s")
        verdict = "every submission recorded once, none lost" if not problems else "PROBLEMS: " + "; ".join(problems)
        print(f"recorded: {len(rows)} in the database, {len(inbox)} in the inbox, {len(listed)} listed by the API "
              f"— {verdict}")
        if args.out:
            Path(args.out).write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return 1 if problems else 0
    finally:
        if args.keep:
            print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
