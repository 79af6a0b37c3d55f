"""A small, readable synthetic year for the report tests (and bench/bench_reports.py), scored with the
real scorer, and a parser for what the reports show.

``make_year`` draws plausible measure values for a registry of synthetic zones, scores every year with
``etdz.scoring.year.score_year`` (so the reports are tested on exactly the datasets the pipeline
publishes) and passes each frame through its declared Parquet schema, as the warehouse would.

Usage::

    data = make_year(catalogue, data_year=2022, per_region={"east": 5, "central": 3, "west": 2})
    inputs = data.inputs()          # an etdz.reports.ReportInputs
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue, catalogue_for_year, load_catalogues
from etdz.schemas import schema_for, to_table
from etdz.scoring import YearInputs, score_year

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
MISSING_SHARE = 0.02  # values a zone leaves empty (scored as missing)


def published(dataset: str, df: pd.DataFrame | None, top_lists=()) -> pd.DataFrame:
    """A frame as the warehouse returns it: conformed to the dataset's declared schema and read back."""
    return to_table(df, schema_for(dataset, top_lists)).to_pandas()


@dataclass
class SynthYear:
    data_year: int
    catalogue: Catalogue
    zones: pd.DataFrame
    registry: pd.DataFrame
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    history: pd.DataFrame | None = None
    scored_from: YearInputs | None = None   # what score_year read for data_year (to re-score a correction)

    def inputs(self):
        from etdz.reports import ReportInputs

        f = self.frames
        return ReportInputs(
            data_year=self.data_year, catalogue=self.catalogue, rankings=f["rankings"],
            category_scores=f["category_scores"], indicator_scores=f["indicator_scores"],
            indicator_bounds=f["indicator_bounds"], downgrade_watchlist=f["downgrade_watchlist"],
            upgrade_candidates=f["upgrade_candidates"], submission_log=f["submission_log"],
            submission_issues=f["submission_issues"], measures=f["measures"], history=self.history,
            ranking_changes=f.get("ranking_changes"), rank_robustness=f.get("rank_robustness"),
            prev_measures=None if self.scored_from is None else self.scored_from.prev_measures,
            prev_accepted=None if self.scored_from is None else self.scored_from.prev_accepted)


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


def make_registry(zones: pd.DataFrame, first_year: int, provincial: int, newcomer: str | None = None,
                  data_year: int | None = None) -> pd.DataFrame:
    """The national zones (assessed from ``first_year``; ``newcomer`` only from ``data_year``, so its growth
    indicators have no base) and ``provincial`` provincial zones."""
    reg = zones.assign(tier="national", first_data_year=first_year, exit_data_year=None)
    if newcomer is not None:
        reg.loc[reg.zone_code == newcomer, "first_data_year"] = data_year
    prov = pd.DataFrame([{"zone_code": f"P{j + 1:03d}", "name_zh": f"{CITIES[j % len(CITIES)]}省级开发区",
                          "province": list(PROVINCES["central"])[j % 5], "region": "central", "tier": "provincial",
                          "first_data_year": None, "exit_data_year": None} for j in range(provincial)])
    reg = pd.concat([reg, prov], ignore_index=True) if len(prov) else reg
    for c in ("first_data_year", "exit_data_year"):
        reg[c] = reg[c].astype("Int64")
    return reg


def _measures_for(codes: list[str], catalogue: Catalogue, rng: np.random.Generator, base=None) -> pd.DataFrame:
    """Random plausible measure values, one column per measure (growing ~8% a year from ``base``)."""
    n = len(codes)
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
    df = pd.DataFrame(out, index=codes)
    for num_, den in (("fdi_actual", "city_fdi_actual"), ("trade_total", "city_trade_total"),
                      ("gdp", "city_gdp"), ("tax_revenue", "city_tax_revenue")):
        if num_ in df and den in df:
            df[den] = np.maximum(df[den], df[num_] * 1.5)
    return df


def _long(mvals: pd.DataFrame, zones: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """The long measures of the given zones, a few values left empty."""
    long = mvals.loc[zones].stack().rename("value").reset_index()
    long.columns = ["zone_code", "measure_code", "value"]
    return long[rng.random(len(long)) >= MISSING_SHARE].reset_index(drop=True)


def make_year(catalogue: Catalogue | None = None, data_year: int = 2022, *,
              per_region: dict[str, int] | None = None, years: int = 3, seed: int = 7,
              names: dict[str, str] | None = None, no_submission: tuple[str, ...] = ("W002",),
              provincial: int = 4) -> SynthYear:
    """A synthetic year ``data_year`` with ``years`` years of history, every year scored by ``score_year``.

    ``names`` overrides zone names (e.g. hostile ones); zones in ``no_submission`` have no valid file in
    ``data_year`` (so the results are provisional).
    """
    if catalogue is None:
        catalogue = catalogue_for_year(load_catalogues(), data_year)
    per_region = per_region or {"east": 6, "central": 4, "west": 3}
    rng = np.random.default_rng(seed)
    zones = make_zones(per_region, names)
    first = data_year - years + 1
    # the last zone of the first region joined in data_year: its growth indicators are imputed (no_base)
    newcomer = zones.zone_code.iloc[per_region[next(iter(per_region))] - 1] if years > 1 else None
    registry = make_registry(zones, first, provincial, newcomer, data_year)
    codes = registry.zone_code.tolist()
    top = catalogue.top_lists
    history: dict[int, pd.DataFrame] = {}
    prev_m, prev_long, prev_sub = None, None, set()
    for y in range(first, data_year + 1):
        mvals = _measures_for(codes, catalogue, rng, prev_m)
        if provincial:  # provincial zones a little smaller than the national ones
            mvals.loc[(registry.tier == "provincial").to_numpy()] *= 0.8
        accepted = [c for c in codes
                     if not (y == data_year and c in no_submission) and not (c == newcomer and y < data_year)]
        long = _long(mvals, accepted, rng)
        year_inputs = YearInputs(data_year=y, catalogue=catalogue, registry=registry, measures=long,
                                 accepted=set(accepted), prev_measures=prev_long, prev_accepted=prev_sub,
                                 history=dict(history))
        result = score_year(year_inputs)
        history[y] = published("rankings", result.rankings, top)
        prev_m, prev_long, prev_sub = mvals, long, set(accepted)
    frames = {name: published(name, getattr(result, name), top) for name in
              ("rankings", "category_scores", "indicator_scores", "indicator_bounds", "downgrade_watchlist",
               "upgrade_candidates")}
    meas = long.assign(unit=long.measure_code.map({c: m.unit for c, m in catalogue.measures.items()}),
                       source_sha256=long.zone_code.map(lambda c: f"{abs(hash(c)) % 16**12:012x}"),
                       tier=long.zone_code.map(dict(zip(registry.zone_code, registry.tier))),
                       method_version=catalogue.version)
    meas["reported_value"], meas["reported_unit"] = meas.value.map(repr), meas.unit
    frames["measures"] = published("measures", meas)
    frames.update(_log_and_issues(zones.zone_code.tolist(), no_submission, catalogue, data_year))
    hist = pd.concat([h.assign(data_year=y) for y, h in history.items()], ignore_index=True)
    return SynthYear(data_year, catalogue, zones, registry, frames, hist, year_inputs)


def corrected(data: SynthYear, code: str, measure: str, factor: float) -> SynthYear:
    """The same year after ``code`` sent a corrected file (its ``measure`` × ``factor``), re-scored with
    ``score_year``; ``frames["ranking_changes"]`` is what ``etdz.changes.compare`` gives against the first run."""
    from etdz.changes import (
        MEASURE_COLUMNS,
        RANK_COLUMNS,
        Baseline,
        ChangeInputs,
        compare,
        file_statuses,
        inputs_digest,
    )

    before = data.scored_from
    m = before.measures.copy()
    sel = (m.zone_code == code) & (m.measure_code == measure)
    m.loc[sel, "value"] *= factor
    after = YearInputs(**{**before.__dict__, "measures": m})
    result = score_year(after)
    top = data.catalogue.top_lists
    frames = dict(data.frames)
    frames.update({name: published(name, getattr(result, name), top) for name in
                   ("rankings", "category_scores", "indicator_scores", "indicator_bounds", "downgrade_watchlist",
                    "upgrade_candidates")})
    meas = frames["measures"].copy()  # the measures dataset holds the corrected figure too
    fix = (meas.zone_code == code) & (meas.measure_code == measure)
    meas.loc[fix, "value"] *= factor
    meas.loc[fix, "reported_value"] = meas.loc[fix, "value"].map(repr)
    frames["measures"] = published("measures", meas)
    log = data.frames["submission_log"].copy()
    first = (log.zone_code == code) & (log.status == "accepted")
    new = log[first].assign(file_name=f"{code}_{data.data_year} 更正.csv", sha256="c" * 64,
                            received_at=log.loc[first, "received_at"] + pd.Timedelta(days=20))
    log.loc[first, ["status", "superseded_by"]] = ["superseded", "c" * 64]
    frames["submission_log"] = published("submission_log", pd.concat([log, new], ignore_index=True))
    old_files = file_statuses({data.data_year: data.frames["submission_log"]})
    baseline = Baseline(inputs_digest(old_files, data.registry, data.catalogue.sha256),
                        data.frames["rankings"][RANK_COLUMNS], old_files,
                        pd.Timestamp(f"{data.data_year + 1}-03-20 09:30", tz="UTC"),
                        data.frames["measures"][MEASURE_COLUMNS])
    comparison = compare(ChangeInputs(data.data_year, frames["rankings"], {data.data_year: frames["submission_log"]},
                                      data.registry, data.catalogue.sha256, data.catalogue.version, baseline, None,
                                      measures=frames["measures"]))
    frames["ranking_changes"] = published("ranking_changes", comparison.changes)
    hist = data.history[data.history.data_year != data.data_year]
    hist = pd.concat([hist, frames["rankings"].assign(data_year=data.data_year)], ignore_index=True)
    return SynthYear(data.data_year, data.catalogue, data.zones, data.registry, frames, hist, after)


def _log_and_issues(codes: list[str], no_submission: tuple[str, ...], catalogue: Catalogue,
                    data_year: int) -> dict[str, pd.DataFrame]:
    """A submission log (every accepted file; one superseded, one rejected and one late file) and its issues."""
    ts = pd.Timestamp(f"{data_year + 1}-03-01", tz="UTC")
    log = []
    for i, code in enumerate(codes):
        if code in no_submission:
            continue
        log.append({"file_name": f"{code}_{data_year}.csv", "sha256": f"{i:064x}", "zone_code": code,
                    "status": "accepted", "errors": 0, "warnings": int(i % 3 == 0),
                    "received_at": ts + pd.Timedelta(hours=i), "size_bytes": 2048, "file_format": "csv",
                    "encoding": "utf-8", "rows": len(catalogue.measures), "method_version": catalogue.version,
                    "superseded_by": None, "archive_path": f"_archive/{i:064x}", "late": False})
    log[-1].update(late=True, received_at=ts + pd.Timedelta(days=60))  # accepted on its merits, but late
    log.append({**log[0], "file_name": f"{codes[0]} 初稿.xlsx", "sha256": "f" * 64, "status": "superseded",
                "received_at": ts - pd.Timedelta(days=3), "file_format": "xlsx", "superseded_by": log[0]["sha256"]})
    bad = no_submission[0] if no_submission else codes[-1]
    log.append({**log[0], "file_name": f"{bad}-报表.csv", "sha256": "e" * 64, "zone_code": bad, "status": "rejected",
                "errors": 2, "warnings": 0, "encoding": "gb18030", "superseded_by": None})
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
    return {"submission_log": published("submission_log", pd.DataFrame(log)),
            "submission_issues": published("submission_issues", pd.DataFrame(issues))}


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


# --------------------------------------------------------------------------- printing from headless Chromium

import re  # noqa: E402

_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def pdf_pages(pdf: bytes) -> int:
    """The pages of a PDF: its ``/Type /Page`` objects (Chromium writes page dictionaries uncompressed)."""
    return len(_PAGE_OBJECT.findall(pdf))


def chromium_pdf(html: Path, pdf: Path, timeout: int = 120) -> dict:
    """Print ``html`` to ``pdf`` (A4, the page's own @page rules, no browser header or footer) with headless Chromium,
    offline; returns the exit code, stderr, the page count and the media boxes."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--proxy-server=http://127.0.0.1:9", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf}", Path(html).resolve().as_uri()]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "HOME": profile})
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    data = Path(pdf).read_bytes() if Path(pdf).exists() else b""
    boxes = [(float(w), float(h)) for w, h in re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", data)]
    return {"returncode": p.returncode, "stderr": p.stderr, "pages": pdf_pages(data), "boxes": boxes, "pdf": data}


_HEADING = re.compile(r"<(h[23])\b([^>]*)>.*?</\1>\s*(<([a-z][a-z0-9]*)\b([^>]*)>)?", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_DEST = re.compile(rb"/([A-Za-z0-9_-]+) \[(\d+) 0 R /XYZ [0-9.]+ ([0-9.]+) 0\]")
_PAGE_OBJ = re.compile(rb"(\d+) 0 obj\s*<<\s*/Type\s*/Page(?![A-Za-z])")


def with_heading_anchors(html: str) -> tuple[str, list[tuple[str, str, str]]]:
    """``html`` with every h2/h3 and the element right after it given an id (their own where they have one) and
    linked from an invisible, out-of-flow block, so that Chromium's PDF carries a named destination (page and
    height) for each; returns the page and ``[(heading text, heading id, next element id)]``."""
    pairs: list[tuple[str, str, str]] = []
    out, pos, n = [], 0, 0
    for m in _HEADING.finditer(html):
        if m.group(3) is None:
            continue
        n += 1
        h_attrs, next_attrs = m.group(2), m.group(5) or ""
        hid = _ID.search(h_attrs).group(1) if _ID.search(h_attrs) else f"print-h{n}"
        nid = _ID.search(next_attrs).group(1) if _ID.search(next_attrs) else f"print-n{n}"
        text = re.sub(r"<[^>]+>", "", m.group(0)[:m.start(3) - m.start()]).strip()[:40]
        pairs.append((text, hid, nid))
        start_h_end = m.start() + len(f"<{m.group(1)}") + len(h_attrs) + 1
        out.append(html[pos:m.start()])
        out.append(f"<{m.group(1)}{h_attrs}{'' if _ID.search(h_attrs) else f' id={chr(34)}{hid}{chr(34)}'}>")
        out.append(html[start_h_end:m.start(3)])
        out.append(f"<{m.group(4)}{next_attrs}{'' if _ID.search(next_attrs) else f' id={chr(34)}{nid}{chr(34)}'}>")
        pos = m.end(3)
    out.append(html[pos:])
    links = "".join(f'<a href="#{h}">.</a><a href="#{x}">.</a>' for _, h, x in pairs)
    page = "".join(out).replace("<body>", '<body><div style="position:absolute;left:0;top:0;width:1px;height:1px;'
                                          f'overflow:hidden">{links}</div>', 1)
    return page, pairs


def orphaned_headings(pdf: bytes, pairs: list[tuple[str, str, str]]) -> list[str]:
    """The headings printed on another page than the element that follows them (from the PDF's destinations)."""
    pages = {m.group(1): i for i, m in enumerate(_PAGE_OBJ.finditer(pdf), 1)}
    dests = {name.decode(): pages.get(obj) for name, obj, _ in _DEST.findall(pdf)}
    missing = [h for _, h, x in pairs if h not in dests]
    if missing:
        raise AssertionError(f"no destination in the PDF for the headings {missing[:5]}")
    # an element after a heading that is not printed (display: none on paper) has no destination: nothing to keep
    return [f"{text} (page {dests[h]}, next on page {dests[x]})" for text, h, x in pairs
            if x in dests and dests[h] != dests[x]]


def require_chromium() -> None:
    """At a browser test module's top: skip it when Debian's chromium is missing, fail instead in CI
    (``ETDZ_REQUIRE_SERVERS``), where a browser test must not skip."""
    import pytest

    if not os.path.exists(CHROMIUM):
        if os.environ.get("ETDZ_REQUIRE_SERVERS"):
            raise RuntimeError(f"{CHROMIUM} is missing and ETDZ_REQUIRE_SERVERS is set: "
                               "apt-get install chromium fonts-noto-cjk")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk)", allow_module_level=True)
