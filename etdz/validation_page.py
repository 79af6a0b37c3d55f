"""The year's validation results as one self-contained HTML page, and rejection notices.

The page (GX Data Docs equivalent, without its weight): every file with its status
and every issue, the expectations of the suite with their results. Rendered by the
reports' one Jinja2 environment (autoescape, bidi controls removed: file names and
values come from untrusted files), no network, no script, Chinese text in UTF-8.
Rejection notices are plain text: every untrusted value through :func:`etdz.escape.plain_text`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etdz.commit import atomic_write_text
from etdz.escape import plain_text
from etdz.reports.templating import environment
from etdz.validation import CHECKS, FAMILY_TITLES

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
    "file.missing_columns": "第 1 行必须是表头，包含 zone_code、data_year、measure_code、value、unit 五列（用英文逗号分隔）；请删除表头上方的标题行，或使用报送模板。",
    "file.duplicate_column": "请删除重复的列，每个列名只保留一次。",
    "file.extra_column": "多余的列会被忽略，无需处理；如需说明请写在 note 列。",
    "file.missing_zone": "请在每一行的 zone_code 列填写本园区在名录中的代码。",
    "file.several_zones": "一个文件只能包含一个园区的数据；请每个园区单独报送一个文件，并在每一行填写同一个园区代码。",
    "file.unknown_zone": "请使用园区名录中的代码（区分大小写），可从报送模板中复制。",
    "file.zone_not_due": "无需处理：本年度不参加考核的园区，数据仅存档。",
    "file.year_mismatch": "请确认报送的是本年度的数据，并在每一行的 data_year 列填写该年份。",
    "file.no_catalogue": "请确认 data_year 填写正确。",
    "row.invalid_value": "数值只能填写阿拉伯数字（可带小数点、负号），不要填写文字、区间或“约”等说明；不报送的指标请留空。",
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
}

_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ year }} 年度报送数据校验结果</title>
<style>
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em;color:#222;line-height:1.5}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em} h3{font-size:1.05em;margin-bottom:.3em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em;width:100%} th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2} .accepted{color:#1a7f37} .rejected{color:#b42318;font-weight:bold} .superseded{color:#777}
.error{color:#b42318} .warning{color:#9a6700} .mono{font-family:monospace;font-size:.85em} .ok{color:#1a7f37} .fail{color:#b42318}
.summary span{display:inline-block;margin-right:2em} @media print{body{margin:0} h2{page-break-before:auto}}
</style></head><body>
<h1>{{ year }} 年度报送数据校验结果</h1>
<p>考核办法版本 {{ version }}；校验套件 <span class="mono">{{ suite_name }}</span>（Great Expectations {{ gx_version }}，
{{ rows_checked }} 行一次性校验，用时 {{ "%.2f"|format(seconds) }} 秒）。</p>
<p class="summary"><span>文件 {{ files|length }} 个</span><span class="accepted">已接收 {{ counts.accepted }}</span>
<span class="rejected">已拒收 {{ counts.rejected }}</span><span class="superseded">已被替代 {{ counts.superseded }}</span>
<span>错误 {{ n_errors }} 条</span><span>警告 {{ n_warnings }} 条</span></p>

<h2>文件一览</h2>
<table><thead><tr><th>文件名</th><th>园区</th><th>状态</th><th>错误</th><th>警告</th><th>接收时间（UTC）</th><th>SHA-256</th></tr></thead><tbody>
{% for f in files %}<tr><td><a href="#f{{ loop.index }}">{{ f.file_name }}</a></td><td>{{ f.zone_code or "" }}</td>
<td class="{{ f.status }}">{{ status_zh[f.status] }}{% if f.superseded_by %}（由 {{ f.superseded_by[:12] }} 替代）{% endif %}</td>
<td>{{ f.errors }}</td><td>{{ f.warnings }}</td><td>{{ f.received_at }}</td><td class="mono">{{ f.sha256[:12] }}</td></tr>
{% endfor %}</tbody></table>

<h2>逐个文件的问题</h2>
{% for f in files %}<h3 id="f{{ loop.index }}">{{ f.file_name }} — <span class="{{ f.status }}">{{ status_zh[f.status] }}</span></h3>
{% if f.issues %}<table><thead><tr><th>级别</th><th>代码</th><th>行</th><th>列</th><th>数值</th><th>应为</th><th>说明</th></tr></thead><tbody>
{% for i in f.issues %}<tr><td class="{{ i.severity }}">{{ severity_zh[i.severity] }}</td><td class="mono">{{ i.check }}</td><td>{{ i.row if i.row is not none else "" }}</td>
<td>{{ i.column or "" }}</td><td>{{ i.value if i.value is not none else "" }}</td><td>{{ i.expected or "" }}</td><td>{{ i.message }}</td></tr>
{% endfor %}</tbody></table>{% else %}<p class="ok">没有发现问题。</p>{% endif %}
{% endfor %}

<h2>校验套件（由考核办法生成）</h2>
<table><thead><tr><th>检查</th><th>类别</th><th>级别</th><th>Expectation</th><th>列</th><th>结果</th><th>不符合的行</th><th>检查的行</th></tr></thead><tbody>
{% for e in expectations %}<tr><td class="mono">{{ e.check }}</td><td>{{ family_titles[e.family] }}</td><td class="{{ e.severity }}">{{ severity_zh[e.severity] }}</td>
<td class="mono">{{ e.expectation_type }}</td><td class="mono">{{ e.columns|join(", ") }}</td>
<td class="{{ 'ok' if e.success else 'fail' }}">{{ "通过" if e.success else "未通过" }}</td><td>{{ e.unexpected_count }}</td><td>{{ e.element_count }}</td></tr>
{% endfor %}</tbody></table>

<h2>检查代码说明</h2>
<table><thead><tr><th>代码</th><th>级别</th><th>范围</th><th>含义</th></tr></thead><tbody>
{% for c in checks %}<tr><td class="mono">{{ c.code }}</td><td class="{{ c.severity }}">{{ severity_zh[c.severity] }}</td><td>{{ c.scope }}</td><td>{{ c.title_zh }}</td></tr>
{% endfor %}</tbody></table>
</body></html>
"""

def _none(v):
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return None
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _none(v) for k, v in r.items()} for r in df.astype(object).to_dict("records")]


def render_validation_page(ingest) -> str:
    log, issues, report = ingest.log, ingest.issues, ingest.validation
    by_file: dict[tuple, list[dict]] = {}
    for r in _records(issues):  # one pass over the issues, not one filter of all issues per file
        by_file.setdefault((r["file_name"], r["sha256"]), []).append(r)
    files = []
    for f in _records(log):
        f["issues"] = by_file.get((f["file_name"], f["sha256"]), [])
        if f.get("received_at") is not None:
            f["received_at"] = pd.Timestamp(f["received_at"]).strftime("%Y-%m-%d %H:%M:%S")
        files.append(f)
    counts = {s: int((log["status"] == s).sum()) for s in ("accepted", "rejected", "superseded")}
    return environment().from_string(_TEMPLATE).render(
        year=ingest.data_year, version=ingest.method_version, suite_name=report.suite_name,
        gx_version=report.gx_version or "-", rows_checked=report.rows_checked, seconds=report.duration_s,
        files=files, counts=counts, n_errors=int((issues["severity"] == "error").sum()),
        n_warnings=int((issues["severity"] == "warning").sum()), expectations=report.expectations,
        family_titles=FAMILY_TITLES, checks=list(CHECKS.values()), status_zh=STATUS_ZH, severity_zh=SEVERITY_ZH)


def write_validation_page(ingest, path: str | Path) -> None:
    """Write the page atomically (etdz.commit: part of the step's commit inside a step)."""
    atomic_write_text(path, render_validation_page(ingest))


def rejection_notice_text(file_log_row, issues_of_file: pd.DataFrame) -> str:
    """A plain-text (markdown-compatible) Chinese notice for one rejected file, to send as it is.

    ``file_log_row``: a row of the submission log (mapping / Series / namedtuple)."""
    get = (lambda k: getattr(file_log_row, k, None)) if not hasattr(file_log_row, "get") else file_log_row.get
    name, sha = get("file_name"), get("sha256") or ""
    zone = _none(get("zone_code"))
    received = _none(get("received_at"))
    iss = issues_of_file.copy()
    errors = iss.loc[iss["severity"] == "error"]
    warnings = iss.loc[iss["severity"] == "warning"]
    lines = [
        "# 报送文件退回通知",
        "",
        f"文件名：{plain_text(name)}",
        f"园区代码：{plain_text(zone) if zone else '（无法确定）'}",
        f"接收时间（UTC）：{pd.Timestamp(received).strftime('%Y-%m-%d %H:%M:%S') if received is not None else '—'}",
        f"文件指纹（SHA-256）：{sha}",
        "",
        f"该文件未通过校验，已被退回（共 {len(errors)} 个错误、{len(warnings)} 个警告），其中的数据不会用于考核评价。"
        "原文件已存档。请按以下说明修改后重新报送整份文件；重新报送的文件将替代本文件。",
        "",
        "## 必须修改的问题（错误）",
        "",
    ]

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
            fix = FIX_ZH.get(r["check"])
            if fix:
                out.append(f"   修改方法：{fix}")
        return out

    lines += block(errors) or ["（无）"]
    if len(warnings):
        lines += ["", "## 请核对的问题（警告，不影响接收）", ""] + block(warnings)
    lines += ["", "如有疑问，请联系考核评价工作组。"]
    return "\n".join(lines) + "\n"
