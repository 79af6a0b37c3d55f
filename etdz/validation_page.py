"""The year's validation results as one self-contained HTML page, and rejection notices.

The page (GX Data Docs equivalent, without its weight) opens with what needs doing: the
rejected files (zone code and name, first error, the notice to send) and the zones still
without an accepted file, then the warnings, filterable by rule family (CSS only), then
every file's problems and the suite. Jinja2 with autoescape on (file names and values come
from untrusted files), no network, no script, Chinese text in UTF-8, A4 print styles (the
details stay on screen). Rendered by the reports' one Jinja2 environment (bidi controls removed);
rejection notices are plain text, every untrusted value through :func:`etdz.escape.plain_text`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from etdz.commit import atomic_write_text, remove
from etdz.deadlines import deadline
from etdz.escape import plain_text
from etdz.registry import due_zones
from etdz.rejections import beijing_time, deadline_text, notice_key, notice_name, notice_names
from etdz.reports import fictitious
from etdz.reports.templating import environment
from etdz.validation import CHECKS, FAMILIES, FAMILY_TITLES

__all__ = ["notice_name", "render_validation_page", "write_validation_page", "write_rejection_notices",
           "rejection_notice_text"]

STATUS_ZH = {"accepted": "已接收", "rejected": "已拒收", "superseded": "已被替代"}
SEVERITY_ZH = {"error": "错误", "warning": "警告"}

#: How to fix each problem (rejection notices)
FIX_ZH = {
    "file.not_csv_xlsx": "请把文件另存为 .xlsx（Excel 工作簿）或 .csv（逗号分隔）后重新报送。",
    "file.too_large": "请只保留规定的列和本园区的指标行，另存后重新报送。",
    "file.encoding": "请在 Excel 中“另存为”—“CSV UTF-8（逗号分隔）”，或直接报送 .xlsx 文件。",
    "file.unreadable": "请用 Excel 打开后“另存为” .xlsx 或 CSV，再重新报送。",
    "file.zip_bomb": "请使用报送模板重新填写并保存为普通的 .xlsx 文件。",
    "file.empty": "请使用报送模板：第 1 行为表头，其下每行填写一个指标。",
    "file.no_data": "请在表头下方逐行填写各项指标的数据。",
    "file.missing_columns": "第 1 行必须是表头，包含 zone_code、data_year、measure_code、value、unit 五列"
                            "（用英文逗号分隔）；请删除表头上方的标题行，或使用报送模板。",
    "file.duplicate_column": "请删除重复的列，每个列名只保留一次。",
    "file.extra_column": "多余的列会被忽略，无需处理；如需说明请写在 note 列。",
    "file.missing_zone": "请在每一行的 zone_code 列填写本园区在名录中的代码。",
    "file.several_zones": "一个文件只能包含一个园区的数据；"
                          "请每个园区单独报送一个文件，并在每一行填写同一个园区代码。",
    "file.unknown_zone": "请使用园区名录中的代码（区分大小写），可从报送模板中复制。",
    "file.zone_not_due": "无需处理：本年度不参加考核的园区，数据仅存档。",
    "file.year_mismatch": "如果这是另一年度的数据，请把它原样作为那一年度的报送提交，不要改动年份；"
                          "如果数据是本年度的、只是年份空白或写错（如写成文字），请在每一行填写本年度的年份。",
    "file.no_catalogue": "请确认 data_year 填写正确。",
    "row.invalid_value": "数值只能填写阿拉伯数字（可带小数点、负号），不要填写文字、区间或“约”等说明；"
                         "不报送的指标请留空。",
    "row.formula": "请把公式单元格改为数值本身（复制后“选择性粘贴—数值”）。",
    "row.field_count": "请去掉数值中的千位分隔逗号，或用 Excel 重新另存为 CSV。",
    "row.number_normalised": "无需处理；今后请直接填写半角数字，不加千位分隔符。",
    "row.unknown_measure": "请使用报送模板中的指标代码（区分大小写），或删除不属于本年度考核办法的行。",
    "row.unknown_unit": "请把单位改为该指标可接受的单位之一（见“应为”），数值相应换算。",
    "row.duplicate_measure": "每个指标只能填写一行，请删除重复的行。",
    "row.hard_bounds": "请核对数值与单位（例如 万元 与 亿元），改为允许范围内的数值。",
    "row.not_integer": "计数类指标请填写整数。",
    "row.required_missing": "如有该指标的数据请补报；不补报则该指标得 0 分。",
    "file.required_absent": "如有该指标的数据请补报；不补报则该指标得 0 分。",
    "row.soft_range": "请核对数值与单位；如数值无误，无需处理。",
    "row.not_above": "请核对园区数与所在城市数是否填反、单位是否一致；如无误，无需处理。",
    "row.yoy_change": "请核对数值与单位；如确有大幅变化，无需处理（可在 note 列说明）。",
    "row.inconsistent": "请核对规则两边的数值与单位（如园区数与所在城市数是否填反、万元与亿元是否混淆）；"
                        "超出容差的须更正后重新报送，容差之内的如无误无需处理。",
}

# the page's template (autoescaped: file names and values come from untrusted files)
TEMPLATE = Path(__file__).parent / "data" / "validation.html.j2"

def _none(v):
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return None
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _none(v) for k, v in r.items()} for r in df.astype(object).to_dict("records")]


def _family_of(check: str) -> str:
    return next((fam for fam, codes in FAMILIES.items() if check in codes), "other")


def render_validation_page(ingest, registry: pd.DataFrame | None = None, *, demo: bool = False) -> str:
    """The year's validation page: rejected files and the zones still missing first, then the warnings
    (filterable by rule family), then every file's problems and the suite. ``registry`` gives zone names
    and the zones due; without it the missing zones are not listed. ``demo``: the demo's banner on top
    (:mod:`etdz.reports.fictitious`)."""
    log, issues, report = ingest.log, ingest.issues, ingest.validation
    names = dict(zip(registry["zone_code"], registry["name_zh"])) if registry is not None else {}
    notices = notice_names(log, registry)
    by_file: dict[tuple, list[dict]] = {}
    for r in _records(issues):  # one pass over the issues, not one filter of all issues per file
        by_file.setdefault((r["file_name"], r["sha256"]), []).append(r)
    files, rejected, warnings = [], [], []
    for index, f in enumerate(_records(log), 1):
        f["index"] = index
        f["issues"] = by_file.get((f["file_name"], f["sha256"]), [])
        if f.get("received_at") is not None:
            f["received_at"] = pd.Timestamp(f["received_at"]).strftime("%Y-%m-%d %H:%M:%S")
        files.append(f)
        if f["status"] == "rejected":
            first = next((i["message"] for i in f["issues"] if i["severity"] == "error"), "")
            rejected.append({**f, "zone_name": names.get(f.get("zone_code")), "first_error": first,
                             "notice": notices.get((str(f["file_name"]), notice_key(f["file_name"], f["sha256"])))})
        warnings += [{**i, "family_key": _family_of(i["check"])} for i in f["issues"] if i["severity"] == "warning"]
    warnings.sort(key=lambda i: (str(i.get("zone_code") or ""), i["file_name"], i["row"] or 0))
    families = sorted({w["family_key"] for w in warnings})
    warning_families = [{"key": fam, "title": FAMILY_TITLES.get(fam, fam),
                         "count": sum(w["family_key"] == fam for w in warnings)} for fam in families]
    missing = None
    if registry is not None:
        due = due_zones(registry, ingest.data_year)
        got = ingest.accepted_zones
        tried = log.loc[log["status"] == "rejected", "zone_code"].value_counts().to_dict()
        missing = [{"zone_code": z.zone_code, "name_zh": z.name_zh, "province": z.province,
                    "rejected_files": int(tried.get(z.zone_code, 0))}
                   for z in due.itertuples(index=False) if z.zone_code not in got]
    counts = {s: int((log["status"] == s).sum()) for s in ("accepted", "rejected", "superseded")}
    return environment().from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        year=ingest.data_year, version=ingest.method_version, suite_name=report.suite_name,
        gx_version=report.gx_version or "-", rows_checked=report.rows_checked, seconds=report.duration_s,
        files=files, rejected=rejected, missing=missing, warnings=warnings, warning_families=warning_families,
        counts=counts, n_errors=int((issues["severity"] == "error").sum()),
        n_warnings=int((issues["severity"] == "warning").sum()), expectations=report.expectations,
        family_titles=FAMILY_TITLES, checks=list(CHECKS.values()), status_zh=STATUS_ZH, severity_zh=SEVERITY_ZH,
        demo=demo)


def write_validation_page(ingest, path: str | Path, registry: pd.DataFrame | None = None, *,
                          demo: bool = False) -> None:
    """Write the page atomically (see :func:`render_validation_page`)."""
    atomic_write_text(Path(path), render_validation_page(ingest, registry, demo=demo))


def write_rejection_notices(ingest, folder: str | Path, registry: pd.DataFrame | None = None, *,
                            deadlines: Mapping[int, date] | None = None, demo: bool = False) -> Path:
    """One notice per rejected file (:func:`etdz.rejections.notice_names`, never the untrusted file name); notices
    of files no longer rejected are removed, so the folder always matches the year's submission log.

    Each notice names the zone (from the registry), the year's deadline (``deadlines``: the configured ones,
    else :func:`etdz.deadlines.default_deadline`) and the zone's accepted file when it has one, which the advice
    never makes it overwrite. ``demo``: the demo's banner on top."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    issues, log = ingest.issues, ingest.log
    names = dict(zip(registry["zone_code"], registry["name_zh"])) if registry is not None else {}
    accepted = {}
    for r in _records(log[log["status"] == "accepted"]):  # the chosen file of each zone (the others: superseded)
        accepted[r["zone_code"]] = r
    due_day = deadline(ingest.data_year, deadlines)
    wanted = {}
    notices = notice_names(log, registry)
    for row in log[log["status"] == "rejected"].to_dict("records"):
        # name and hash together: two files with identical bytes under different names are two submissions
        mine = issues[(issues["sha256"] == row["sha256"]) & (issues["file_name"] == row["file_name"])]
        name = notices[(str(row["file_name"]), notice_key(row["file_name"], row["sha256"]))]
        zone = _none(row.get("zone_code"))
        wanted[name] = rejection_notice_text(row, mine, data_year=ingest.data_year, zone_name=names.get(zone),
                                             deadline_day=due_day, accepted=accepted.get(zone), demo=demo)
    for old in folder.glob("*.txt"):  # part of the step's commit: removed when the new notices appear
        if old.name not in wanted and not old.name.startswith(("_", ".")):
            remove(old)
    for name, text in wanted.items():
        atomic_write_text(folder / name, text)
    return folder


def _year_advice(r: dict, data_year: int | None, accepted: dict | None) -> str | None:
    """What a zone does with a file of another data year: send it for that year, never re-label it as this one (that
    would replace this year's figures, or its accepted file, with another year's)."""
    found = plain_text(r.get("value")) if r.get("value") not in (None, "") else ""
    years = [y.strip() for y in found.split(",") if y.strip().isdigit() and len(y.strip()) == 4]
    if data_year is None or len(years) != 1:
        return None
    other = years[0]
    keep = (f"本区 {data_year} 年度已受理的文件「{plain_text(accepted.get('file_name'))}」不受影响，仍然有效。"
            if accepted else "")
    return (f"本文件填写的是 {other} 年的数据，却报送到了 {data_year} 年度。如果这正是 {other} 年的数据，"
            f"请把它原样作为 {other} 年度的报送提交（报送到 {other} 年度），不要改动年份；{keep}"
            f"如果您要报送的是 {data_year} 年的数据，请用 {data_year} 年度的报送模板填写 {data_year} 年的数字。"
            f"切勿只把每一行的年份改为 {data_year}：那会用 {other} 年的数字顶替本区 {data_year} 年度的数据。")


def rejection_notice_text(file_log_row, issues_of_file: pd.DataFrame, *, data_year: int | None = None,
                          zone_name: str | None = None, deadline_day: date | None = None,
                          accepted: Mapping | None = None, demo: bool = False) -> str:
    """A plain-text (markdown-compatible) Chinese notice for one rejected file, to send as it is.

    ``file_log_row``: a row of the submission log (mapping / Series / namedtuple); ``data_year``: the year it was
    sent for; ``zone_name``: the zone's registry name; ``deadline_day``: the year's deadline (Asia/Shanghai,
    inclusive); ``accepted``: the zone's accepted file of the year (its submission-log row), which stays in force;
    ``demo``: the demo's banner on top. Every untrusted value goes through :func:`etdz.escape.plain_text`."""
    get = (lambda k: getattr(file_log_row, k, None)) if not hasattr(file_log_row, "get") else file_log_row.get
    name, sha = get("file_name"), get("sha256") or ""
    zone = _none(get("zone_code"))
    received = _none(get("received_at"))
    iss = issues_of_file.copy()
    errors = iss.loc[iss["severity"] == "error"]
    warnings = iss.loc[iss["severity"] == "warning"]
    if received is not None:
        utc = pd.Timestamp(received)
        utc = utc.tz_localize("UTC") if utc.tzinfo is None else utc.tz_convert("UTC")
        received_text = f"{beijing_time(received)}（北京时间；UTC {utc.strftime('%Y-%m-%d %H:%M:%S')}）"
    else:
        received_text = "—"
    zone_line = (f"园区：{plain_text(zone_name)}（代码 {plain_text(zone)}）" if zone and zone_name else
                 f"园区代码：{plain_text(zone)}（不在园区名录中）" if zone else "园区代码：（无法确定）")
    lines = [*fictitious.notice_lines(demo),
             "# 报送文件退回通知",
             "",
             zone_line,
             *([f"数据年度：{data_year}"] if data_year is not None else []),
             f"文件名：{plain_text(name)}",
             f"接收时间：{received_text}",
             f"文件指纹（SHA-256）：{sha}",
             "",
             f"该文件未通过校验，已被退回（共 {len(errors)} 个错误、{len(warnings)} 个警告），"
             "其中的数据不会用于考核评价。原文件已存档。",
             ""]
    if accepted:
        lines += [f"本区 {data_year or ''} 年度已有被受理的文件「{plain_text(accepted.get('file_name'))}」"
                  f"（接收于 {beijing_time(accepted.get('received_at'))} 北京时间），它仍然有效，本次退回不影响它。"
                  "只有当本文件的数据应当取代它时，才按以下说明修改后重新报送整份文件：重新报送的文件一经受理，"
                  "即取代已受理的文件；否则无需任何处理。"]
    else:
        year_zh = f" {data_year} 年度" if data_year is not None else ""
        lines += [f"本区{year_zh}尚无被受理的文件：在重新报送有效文件之前，全部指标按缺失计 0 分。"
                  "请按以下说明修改后重新报送整份文件。"]
    if deadline_day is not None:
        lines += [f"报送截止：{deadline_text(deadline_day)}。截止后收到的文件仍按其内容受理，但标注为逾期。"]
    lines += ["", "## 必须修改的问题（错误）", ""]

    def block(df: pd.DataFrame) -> list[str]:
        out = []
        for n, r in enumerate(_records(df), 1):
            where = f"第 {r['row']} 行" if r.get("row") is not None else "整个文件"
            col = f"，{plain_text(r['column'])} 列" if r.get("column") else ""
            out.append(f"{n}. [{r['check']}] {where}{col}：{plain_text(r['message'])}")
            if r.get("value") not in (None, ""):
                out.append(f"   发现的内容：{plain_text(r['value'])}")
            if r.get("expected"):
                out.append(f"   应为：{plain_text(r['expected'])}")
            fix = (_year_advice(r, data_year, accepted) if r["check"] == "file.year_mismatch" else None) \
                or FIX_ZH.get(r["check"])
            if fix:
                out.append(f"   修改方法：{fix}")
        return out

    lines += block(errors) or ["（无）"]
    if len(warnings):
        lines += ["", "## 请核对的问题（警告，不影响接收）", ""] + block(warnings)
    lines += ["", "如有疑问，请联系考核评价工作组。"]
    return "\n".join(lines) + "\n"
