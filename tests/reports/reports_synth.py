"""A small, readable synthetic dataset builder for the report tests (and bench/bench_reports.py),
and a parser for what the reports show.

``make_year`` produces every frame ``etdz.reports.ReportInputs`` takes, with exactly the columns of
``etdz.schemas``. It scores the zones with a compact, vectorised version of 03-scoring.md (winsorised
min-max, weighted means, competition ranks, downgrade and summons rules) so that the reports look like a
real year; the report tests only rely on the frames being internally consistent, not on this being the
reference scorer.

Usage::

    data = make_year(catalogue, data_year=2022, per_region={"east": 5, "central": 3, "west": 2})
    inputs = data.inputs()          # an etdz.reports.ReportInputs
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue, catalogue_for_year, load_catalogues
from etdz.schemas import STATIC, rankings_schema

PROVINCES = {  # province -> host cities used for synthetic zone names
    "east": {"江苏": ["苏州", "昆山", "南京", "南通", "徐州"], "浙江": ["宁波", "杭州", "嘉兴", "温州"],
             "山东": ["青岛", "烟台", "威海", "济南"], "广东": ["广州", "惠州", "湛江"], "上海": ["闵行", "漕河泾"],
             "福建": ["厦门", "福州", "泉州"]},
    "central": {"河南": ["郑州", "洛阳", "新乡"], "湖北": ["武汉", "襄阳", "宜昌"], "湖南": ["长沙", "株洲", "岳阳"],
                "安徽": ["合肥", "芜湖", "滁州"], "江西": ["南昌", "九江", "赣州"]},
    "west": {"四川": ["成都", "绵阳", "德阳"], "重庆": ["重庆", "万州", "长寿"], "陕西": ["西安", "宝鸡", "汉中"],
             "广西": ["南宁", "柳州", "钦州"], "云南": ["昆明", "曲靖", "蒙自"]},
}
CITIES = ["苏州", "合肥", "成都", "青岛"]


def empty(dataset: str, top_lists=()) -> pd.DataFrame:
    """An empty frame with exactly the columns of a dataset."""
    schema = rankings_schema(top_lists) if dataset == "rankings" else STATIC[dataset]
    return pd.DataFrame({f.name: pd.Series(dtype=object) for f in schema})


def competition_rank(scores, groups=None) -> np.ndarray:
    """1 + the number of zones in the same group with a strictly greater score (rounded to 6 decimals)."""
    s = np.round(np.asarray(scores, dtype=float), 6)
    g = np.zeros(len(s)) if groups is None else np.asarray(groups)
    out = np.empty(len(s), dtype=int)
    for i in range(len(s)):
        same = g == g[i]
        out[i] = 1 + int(np.sum(s[same] > s[i]))
    return out


@dataclass
class SynthYear:
    data_year: int
    catalogue: Catalogue
    zones: pd.DataFrame
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    history: pd.DataFrame | None = None
    category_history: pd.DataFrame | None = None

    def inputs(self):
        from etdz.reports import ReportInputs

        f = self.frames
        return ReportInputs(
            data_year=self.data_year, catalogue=self.catalogue, rankings=f["rankings"],
            category_scores=f["category_scores"], indicator_scores=f["indicator_scores"],
            indicator_bounds=f["indicator_bounds"], downgrade_watchlist=f["downgrade_watchlist"],
            upgrade_candidates=f["upgrade_candidates"], submission_log=f["submission_log"],
            submission_issues=f["submission_issues"], measures=f["measures"], history=self.history,
            category_history=self.category_history)


def make_zones(per_region: dict[str, int], names: dict[str, str] | None = None) -> pd.DataFrame:
    rows = []
    for region, n in per_region.items():
        provs = list(PROVINCES[region].items())
        for j in range(n):
            code = f"{region[0].upper()}{j + 1:03d}"
            province, cities = provs[j % len(provs)]
            k = j // len(provs)
            city = cities[k % len(cities)]
            suffix = "" if k < len(cities) else "高新" if k < 2 * len(cities) else f"第{k // len(cities) + 1}"
            rows.append({"zone_code": code, "name_zh": f"{city}{suffix}经济技术开发区", "province": province,
                         "region": region})
    zones = pd.DataFrame(rows)
    for code, name in (names or {}).items():
        zones.loc[zones.zone_code == code, "name_zh"] = name
    return zones


def _measures_for(zones: pd.DataFrame, catalogue: Catalogue, rng: np.random.Generator, base=None) -> pd.DataFrame:
    """Random plausible measure values, one column per measure (growing ~8% a year from ``base``)."""
    n = len(zones)
    size = np.exp(rng.normal(0, 0.8, n))  # a zone's size drives most of its figures
    out = {}
    for code, m in catalogue.measures.items():
        if base is not None and code in base:
            v = base[code].to_numpy() * np.exp(rng.normal(0.08, 0.15, n))
        else:
            scale = 1000.0 if "city" in code else 100.0
            v = scale * size * np.exp(rng.normal(0, 0.5, n))
            if code == "startup_days":
                v = 2 + 5 / size
        if m.integer:
            v = np.round(v)
        out[code] = v
    df = pd.DataFrame(out, index=zones.zone_code)
    for num, den in (("fdi_actual", "city_fdi_actual"), ("trade_total", "city_trade_total"),
                     ("gdp", "city_gdp"), ("tax_revenue", "city_tax_revenue")):
        if num in df and den in df:
            df[den] = np.maximum(df[den], df[num] * 1.5)
    return df


def _score_year(zones, catalogue, mvals, prev_mvals, no_submission, rng, data_year, prev_rank):
    """Indicator, category and total scores, ranks and bounds for one year (03-scoring.md, compactly)."""
    n = len(zones)
    codes = zones.zone_code.to_numpy()
    region = zones.region.to_numpy()
    ind_rows, bounds_rows = [], []
    scores = {}
    for ind in catalogue.indicators:
        status = np.array(["ok"] * n, dtype=object)
        if ind.kind == "value":
            v = mvals[ind.measure].to_numpy(dtype=float).copy()
        elif ind.kind == "ratio":
            den = mvals[ind.denominator].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                v = mvals[ind.numerator].to_numpy(dtype=float) / den * ind.scale
            v[den == 0] = np.nan
        else:
            x = mvals[ind.measure].to_numpy(dtype=float)
            if prev_mvals is None:
                v = np.full(n, np.nan)
                status[:] = "no_base"
            else:
                p = prev_mvals[ind.measure].reindex(codes).to_numpy(dtype=float)
                with np.errstate(divide="ignore", invalid="ignore"):
                    v = (x - p) / np.abs(p) * 100
                status[np.isnan(p)] = "no_base"
        miss = rng.random(n) < 0.02
        v[miss] = np.nan
        status[miss] = "missing"
        status[no_submission] = "missing"
        v[no_submission] = np.nan
        ok = status == "ok"
        finite = v[ok & np.isfinite(v)]
        if finite.size:
            if catalogue.winsorise:
                lo, hi = np.quantile(finite, catalogue.winsorise)
            else:
                lo, hi = finite.min(), finite.max()
            c = np.clip(v, lo, hi)
            if hi > lo:
                s = 100 * ((c - lo) if ind.direction == "higher" else (hi - c)) / (hi - lo)
            else:
                s = np.full(n, 100.0)
            mean = finite.mean()
        else:
            lo = hi = mean = np.nan
            s = np.full(n, 100.0)
        s = np.where(ok, s, 0.0)
        med = float(np.median(s[ok])) if ok.any() else 0.0
        imputed = status == "no_base"
        s = np.where(imputed, med, s)
        scores[ind.code] = s

        def better(mask_f, mean_f):
            with np.errstate(invalid="ignore"):
                b = (v > mean_f) if ind.direction == "higher" else (v < mean_f)
            return ok & np.nan_to_num(b, nan=False).astype(bool) if np.isfinite(mean_f) else np.zeros(n, bool)

        bn = better(None, mean)
        br = np.zeros(n, bool)
        for r in np.unique(region):
            sel = region == r
            fr = v[sel & ok & np.isfinite(v)]
            br[sel] = better(None, fr.mean() if fr.size else np.nan)[sel]
        ind_rows.append(pd.DataFrame({
            "zone_code": codes, "indicator_code": ind.code, "category_code": ind.category, "value": v,
            "status": status, "score": s, "imputed": imputed, "better_than_national_avg": bn,
            "better_than_regional_avg": br, "method_version": catalogue.version}))
        bounds_rows.append({"indicator_code": ind.code, "method_version": catalogue.version,
                            "category_code": ind.category, "direction": ind.direction, "weight": float(ind.weight),
                            "lower": lo, "upper": hi, "mean": mean, "imputed_score": med,
                            "n_finite": int(finite.size)})
    ind_df = pd.concat(ind_rows, ignore_index=True)
    total = np.zeros(n)
    cat_rows = []
    for cat in catalogue.categories:
        inds = catalogue.indicators_of(cat.code)
        w = np.array([i.weight for i in inds])
        S = sum(wi * scores[i.code] for wi, i in zip(w, inds)) / w.sum()
        total += cat.weight * S
        cat_rows.append(pd.DataFrame({"zone_code": codes, "category_code": cat.code, "score": S,
                                      "national_rank": competition_rank(S), "method_version": catalogue.version}))
    cat_df = pd.concat(cat_rows, ignore_index=True)
    better_n = ind_df.groupby("zone_code", sort=False)["better_than_national_avg"].sum().reindex(codes).to_numpy()
    better_r = ind_df.groupby("zone_code", sort=False)["better_than_regional_avg"].sum().reindex(codes).to_numpy()
    rk = pd.DataFrame({
        "assessment_year": data_year + 1, "zone_code": codes, "name_zh": zones.name_zh.to_numpy(),
        "province": zones.province.to_numpy(), "region": region, "total_score": total,
        "national_rank": competition_rank(total), "regional_rank": competition_rank(total, region),
        "provincial_rank": competition_rank(total, zones.province.to_numpy()),
    })
    rk["prev_national_rank"] = pd.array([prev_rank.get(c) for c in codes], dtype="Int64")
    rk["rank_change"] = rk.prev_national_rank - pd.array(rk.national_rank, dtype="Int64")
    rk["method_changed"] = False
    rk["top100"] = rk.national_rank <= 100
    rk["indicators_better_than_avg"] = better_n.astype(int)
    rk["indicators_better_than_regional_avg"] = better_r.astype(int)
    rk["indicators_total"] = len(catalogue.indicators)
    rk["submission_status"] = np.where(no_submission, "no_valid_submission", "accepted")
    rk["downgrade_candidate"] = False
    N = n
    rk["summoned"] = rk.national_rank >= N - catalogue.summons_bottom_n + 1
    rk["results_status"] = "provisional" if no_submission.any() else "final"
    rk["method_version"] = catalogue.version
    for m in catalogue.top_lists:
        vals = mvals[m].where(~pd.Series(no_submission, index=mvals.index)).to_numpy(dtype=float)
        r = competition_rank(np.nan_to_num(vals, nan=-1.0))
        rk[f"rank_{m}"] = pd.array(np.where(np.isnan(vals), pd.NA, r), dtype="Int64")
    return rk, cat_df, ind_df, pd.DataFrame(bounds_rows)


def _downgrade(history: pd.DataFrame, Y: int, catalogue: Catalogue) -> pd.DataFrame:
    d = catalogue.downgrade
    if d is None:
        return empty("downgrade_watchlist")
    h = history.copy()
    if d.rule == "regional_bottom":
        nR = h.groupby(["data_year", "region"])["zone_code"].transform("count")
        h["bottom"] = h.regional_rank >= nR - d.bottom_n + 1
        years, times = range(Y - d.window + 1, Y + 1), d.times
    else:
        N = h.groupby("data_year")["zone_code"].transform("count")
        h["bottom"] = h.national_rank >= N - d.bottom_n + 1
        years, times = range(Y - 1, Y + 1), 2
    cur = h[h.data_year == Y].set_index("zone_code")
    w = h[h.data_year.isin(list(years)) & h.bottom & h.zone_code.isin(cur.index)]
    rows = []
    for code, g in w.groupby("zone_code"):
        if len(g) >= times:
            g = g.sort_values("data_year")
            rows.append({"zone_code": code, "name_zh": cur.at[code, "name_zh"], "region": cur.at[code, "region"],
                         "bottom_years": [int(y) for y in g.data_year], "mean_score": float(g.total_score.tail(2).mean()),
                         "rule": d.rule, "method_version": catalogue.version})
    if not rows:
        return empty("downgrade_watchlist")
    out = pd.DataFrame(rows)
    out["region_candidate_rank"] = 0
    for r, idx in out.groupby("region").groups.items():
        out.loc[idx, "region_candidate_rank"] = competition_rank(-out.loc[idx, "mean_score"])
    return out[[f.name for f in STATIC["downgrade_watchlist"]]]


def make_year(catalogue: Catalogue | None = None, data_year: int = 2022, *,
              per_region: dict[str, int] | None = None, years: int = 3, seed: int = 7,
              names: dict[str, str] | None = None, no_submission: tuple[str, ...] = ("W002",),
              provincial: int = 4) -> SynthYear:
    """A synthetic, internally consistent year ``data_year`` with ``years`` years of history.

    ``names`` overrides zone names (e.g. hostile ones); zones in ``no_submission`` have no valid file in
    ``data_year`` (so the results are provisional).
    """
    if catalogue is None:
        catalogue = catalogue_for_year(load_catalogues(), data_year)
    per_region = per_region or {"east": 6, "central": 4, "west": 3}
    rng = np.random.default_rng(seed)
    zones = make_zones(per_region, names)
    codes = zones.zone_code.to_numpy()
    hist, cat_hist = [], []
    prev_m, prev_rank = None, {}
    frames = {}
    for y in range(data_year - years + 1, data_year + 1):
        mvals = _measures_for(zones, catalogue, rng, prev_m)
        nosub = np.isin(codes, no_submission) if y == data_year else np.zeros(len(codes), bool)
        rk, cat_df, ind_df, bounds = _score_year(zones, catalogue, mvals, prev_m, nosub, rng, y, prev_rank)
        hist.append(rk.assign(data_year=y))
        cat_hist.append(cat_df.assign(data_year=y))
        prev_m, prev_rank = mvals, dict(zip(rk.zone_code, rk.national_rank))
        if y == data_year:
            frames.update(rankings=rk, category_scores=cat_df, indicator_scores=ind_df, indicator_bounds=bounds)
            meas = mvals.loc[~nosub].stack().rename("value").reset_index()
            meas.columns = ["zone_code", "measure_code", "value"]
            meas["unit"] = meas.measure_code.map({c: m.unit for c, m in catalogue.measures.items()})
            meas["source_sha256"] = meas.zone_code.map(lambda c: f"{abs(hash(c)) % 16**12:012x}")
            meas["reported_value"] = meas.value.map(repr)
            meas["reported_unit"] = meas.unit
            meas["tier"] = "national"
            meas["method_version"] = catalogue.version
            meas["rate"] = float("nan")
            frames["measures"] = meas[[f.name for f in STATIC["measures"]]]
    history = pd.concat(hist, ignore_index=True)
    wl = _downgrade(history, data_year, catalogue)
    rk = frames["rankings"]
    rk["downgrade_candidate"] = rk.zone_code.isin(wl.zone_code)
    history.loc[history.data_year == data_year, "downgrade_candidate"] = history.zone_code.isin(wl.zone_code)
    frames["downgrade_watchlist"] = wl
    frames["rankings"] = rk[[f.name for f in rankings_schema(catalogue.top_lists)]]

    # provincial upgrade candidates, placed between national zones
    totals = np.sort(rk.total_score.to_numpy())[::-1]
    up = []
    for j in range(provincial):
        t = float(totals[min(len(totals) - 1, 2 + j * 3)] - 0.5)
        up.append({"zone_code": f"P{j + 1:03d}", "name_zh": f"{CITIES[j]}省级开发区",
                   "province": list(PROVINCES["central"])[j % 5], "region": "central", "total_score": t,
                   "candidate_rank": j + 1, "equivalent_national_rank": 1 + int(np.sum(np.round(totals, 6) > round(t, 6))),
                   "method_version": catalogue.version})
    frames["upgrade_candidates"] = pd.DataFrame(up) if up else empty("upgrade_candidates")

    # submission log: every accepted file, one superseded and one rejected file
    ts = pd.Timestamp(f"{data_year + 1}-03-01", tz="UTC")
    log = []
    for i, code in enumerate(codes):
        if code in no_submission:
            continue
        log.append({"file_name": f"{code}_{data_year}.csv", "sha256": f"{i:064x}", "zone_code": code,
                    "status": "accepted", "errors": 0, "warnings": int(i % 3 == 0),
                    "received_at": ts + pd.Timedelta(hours=i), "size_bytes": 2048, "file_format": "csv",
                    "encoding": "utf-8", "rows": len(catalogue.measures), "method_version": catalogue.version,
                    "superseded_by": None, "archive_path": f"_archive/{i:064x}"})
    log.append({**log[0], "file_name": f"{codes[0]} 初稿.xlsx", "sha256": "f" * 64, "status": "superseded",
                "received_at": ts - pd.Timedelta(days=3), "file_format": "xlsx", "superseded_by": log[0]["sha256"]})
    bad = no_submission[0] if no_submission else codes[-1]
    log.append({**log[0], "file_name": f"{bad}-报表.csv", "sha256": "e" * 64, "zone_code": bad, "status": "rejected",
                "errors": 2, "warnings": 0, "encoding": "gb18030", "superseded_by": None})
    frames["submission_log"] = pd.DataFrame(log).assign(late=False)[[f.name for f in STATIC["submission_log"]]]
    issues = [
        {"file_name": f"{bad}-报表.csv", "sha256": "e" * 64, "zone_code": bad, "severity": "error", "scope": "row",
         "check": "invalid_value", "row": 4, "column": "value", "value": "约300", "expected": "a number",
         "message": "not a number"},
        {"file_name": f"{bad}-报表.csv", "sha256": "e" * 64, "zone_code": bad, "severity": "error", "scope": "row",
         "check": "unknown_unit", "row": 9, "column": "unit", "value": "千元", "expected": "亿元|万元|元",
         "message": "unknown unit"},
        {"file_name": log[0]["file_name"], "sha256": log[0]["sha256"], "zone_code": codes[0], "severity": "warning",
         "scope": "row", "check": "soft_yoy", "row": 2, "column": "value", "value": "9999",
         "expected": "x5", "message": "change beyond x5"},
    ]
    frames["submission_issues"] = pd.DataFrame(issues)
    for k, df in frames.items():  # exactly the schema's columns, in its order
        cols = [f.name for f in (rankings_schema(catalogue.top_lists) if k == "rankings" else STATIC[k])]
        assert list(df.columns) == cols or df.empty, (k, set(df.columns) ^ set(cols))
    return SynthYear(data_year, catalogue, zones, frames, history, pd.concat(cat_hist, ignore_index=True))


# --------------------------------------------------------------------------- parsing what the reports show

from html.parser import HTMLParser  # noqa: E402  (kept next to its use)


class _Tables(HTMLParser):
    """Collect every <table id=...>: rows as {"attrs": tr attributes, "cells": [text, ...]}; and
    every element with an id as its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[dict]] = {}
        self.ids: dict[str, str] = {}
        self._table: list[str | None] = []
        self._row = None
        self._cell = None
        self._id_stack: list[tuple[str, str, list]] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table.append(a.get("id"))
            if a.get("id"):
                self.tables.setdefault(a["id"], [])
        elif tag == "tr" and self._table:
            self._row = {"attrs": a, "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if "id" in a and tag not in ("table",):
            self._id_stack.append((a["id"], tag, []))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            tid = self._table[-1] if self._table else None
            if tid:
                self.tables[tid].append(self._row)
            self._row = None
        elif tag == "table" and self._table:
            self._table.pop()
        if self._id_stack and self._id_stack[-1][1] == tag:
            i, _, buf = self._id_stack.pop()
            self.ids[i] = " ".join("".join(buf).split())

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        for _, _, buf in self._id_stack:
            buf.append(data)


def parse_html(text: str) -> _Tables:
    p = _Tables()
    p.feed(text)
    return p


def num(text: str) -> float:
    """A number as the reports show it (thousands separators, − for minus)."""
    return float(text.replace(",", "").replace("−", "-").split()[0])


# --------------------------------------------------------------------------- headless Chromium

import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# Chromium's own background traffic that the flags do not turn off (component updater, sign-in, network
# time); it never leaves the machine here (it ends in the trap), and it is not the page's doing.
BROWSER_HOSTS = ("update.googleapis.com", "accounts.google.com", "clients2.google.com", "clients1.google.com",
                 "redirector.gvt1.com", "edgedl.me.gvt1.com", "optimizationguide-pa.googleapis.com",
                 "safebrowsingohttpgateway.googleapis.com", "content-autofill.googleapis.com")


def _host(request_line: str) -> str:
    parts = request_line.split()
    target = parts[1] if len(parts) > 1 else ""
    target = target.split("://", 1)[-1]
    return target.split("/", 1)[0].split(":", 1)[0].lower()


class _Trap:
    """A TCP listener posing as Chromium's proxy: every connection it receives is a network request."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    first = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                except OSError:
                    first = "?"
                self.requests.append(first)

    def close(self):
        self._stop.set()
        self._t.join(timeout=2)
        self.sock.close()


def chromium_screenshot(html: Path, png: Path, width: int = 1200, height: int = 2000, timeout: int = 90) -> dict:
    """Render ``html`` to ``png`` with Debian's headless Chromium, offline.

    Every http(s)/ws request is routed to a local trap posing as a proxy (and DNS is disabled), so
    ``requests`` lists any network request the page made; ``console`` lists console messages.
    """
    trap = _Trap()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
               "--disable-extensions", "--disable-default-apps", f"--user-data-dir={profile}",
               "--disable-client-side-phishing-detection", "--disable-domain-reliability", "--no-pings",
               "--disable-component-extensions-with-background-pages", "--disable-breakpad", "--no-service-autorun",
               "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain",
               "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
               "CertificateTransparencyComponentUpdater,AutofillServerCommunication,SafeBrowsing,AccountConsistency",
               f"--proxy-server=http://127.0.0.1:{trap.port}", "--proxy-bypass-list=<-loopback>",
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
               "--enable-logging=stderr", "--v=0", f"--window-size={width},{height}",
               f"--screenshot={png}", Path(html).resolve().as_uri()]
        env = {**os.environ, "HOME": profile}
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    finally:
        trap.close()
        shutil.rmtree(profile, ignore_errors=True)
    console = [ln for ln in p.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    page = [r for r in trap.requests if _host(r) not in BROWSER_HOSTS]
    return {"returncode": p.returncode, "stderr": p.stderr, "requests": page, "browser_requests":
            [r for r in trap.requests if r not in page], "console": console,
            "png_bytes": Path(png).stat().st_size if Path(png).exists() else 0}
