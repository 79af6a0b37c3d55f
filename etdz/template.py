"""The submission template of a data year (``etdz template --data-year Y [--zone CODE]``).

One row per measure of Y's catalogue, in catalogue order, with the canonical unit, an empty
value, and a note carrying the measure's Chinese name, whether it is required, whether it is a
count and the units it accepts. Written twice: as CSV (UTF-8 with BOM, so Excel on a Chinese
Windows machine shows the characters right) and as XLSX: the first sheet is the submission, checked
as the zone types (Excel data validation on every value cell, the units of the year as a drop-down,
the identifying columns locked by sheet protection), a second sheet 说明 with instructions, the
year's exchange rate and a worked conversion. ``data_year`` is always prefilled; ``zone_code``
when a zone is given (checked against the registry). A filled-in template passes ``etdz validate``.

File names come from the year and the zone *code* only (``etdz_template_2022.csv``,
``etdz_template_2022_jiangsu-suzhou-industrial-park.xlsx``): codes are ``[A-Za-z0-9_-]``.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from pathlib import Path

import pandas as pd

from etdz.catalogue import Catalogue, catalogue_for_year
from etdz.escape import spreadsheet_text as neutralise
from etdz.numbers import format_number

HEADER = ["zone_code", "data_year", "measure_code", "value", "unit", "note"]
_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _fmt_factor(f: float) -> str:
    if f == int(f):
        return str(int(f))
    return f"{f:.12f}".rstrip("0")


def measure_note(cat: Catalogue, code: str, data_year: int) -> str:
    """The note of a measure's row: name, required or optional, count, the units accepted in ``data_year``
    with their factors (a currency unit with the year's rate: ``亿美元（×6.4515，2021 年平均汇率）``)."""
    m = cat.measures[code]
    required = code in cat.required_measures
    alts = []
    for u in cat.units_for_year(code, data_year):
        conv = cat.conversion(code, u, data_year)
        if u == m.unit or conv is None:
            continue
        if conv.rate is None:
            alts.append(f"{u}（×{_fmt_factor(conv.factor)}）")
        else:
            steps = f"{'÷' if conv.invert else '×'}{_fmt_factor(conv.rate)}" + (
                f"×{_fmt_factor(conv.factor)}" if conv.factor != 1 else "")
            alts.append(f"{u}（{steps}，{data_year} 年平均汇率）")
    units = f"单位：{m.unit}" + (f"，也可用 {'、'.join(alts)}" if alts else "")
    parts = [m.name_zh or m.code, "必填" if required else "选填"]
    if m.integer:
        parts.append("整数")
    if m.hard_min is not None and m.hard_min >= 0 and m.hard_max is None:
        parts.append("不得为负")
    parts.append(units)
    return "；".join(parts)


def _rows(cat: Catalogue, data_year: int, zone: str | None) -> list[list[str]]:
    return [[zone or "", str(data_year), code, "", m.unit, measure_note(cat, code, data_year)]
            for code, m in cat.measures.items()]


def _check_zone(zone: str, registry: pd.DataFrame | None) -> None:
    if not _CODE.fullmatch(zone):
        raise ValueError(f"zone code {zone!r} is not valid: zone codes are 1-40 characters of A-Z a-z 0-9 _ -")
    if registry is None:
        from etdz.registry import load_registry

        registry = load_registry()
    codes = set(registry["zone_code"].astype(str))
    if zone not in codes:
        from etdz.validation.checks import close_matches

        # a typo (sichuan-neijang) or a code that lost or gained a part (suzhou-industrial-park)
        close = close_matches(zone, codes, n=3) or \
            sorted(c for c in codes if zone.lower() in c.lower() or c.lower() in zone.lower())[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"zone {zone!r} is not in the zone registry{hint}; "
                         f"see the registry's zone_code column (ETDZ_REGISTRY)")


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    w.writerows([[neutralise(c) for c in r] for r in rows])
    return buf.getvalue().encode("utf-8-sig")


# Excel's number validations need explicit bounds: "any number" is ±1e15 (Excel keeps 15 significant digits)
_ANY = 1e15


def _excel_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) <= _ANY else repr(float(x))


def value_rule(cat: Catalogue, code: str, data_year: int) -> dict:
    """The Excel data validation of a measure's value cell in ``data_year``'s template.

    Always a number. With a single accepted unit (the canonical one) the cell checks the measure's own
    rules: not below ``hard_min``, not above ``hard_max``, whole for an ``integer`` measure. With several
    units the bounds depend on the unit chosen, so only what holds in every unit is checked: not negative
    when ``hard_min >= 0`` (every factor and rate is > 0)."""
    m = cat.measures[code]
    single = len(cat.units_for_year(code, data_year)) == 1
    lo = m.hard_min if single else (0.0 if m.hard_min is not None and m.hard_min >= 0 else None)
    hi = m.hard_max if single else None
    whole = m.integer and single
    if whole:  # Excel compares whole numbers with whole bounds
        lo = None if lo is None else float(math.ceil(lo))
        hi = None if hi is None else float(math.floor(hi))
    kind = "whole" if whole else "decimal"
    if lo is not None and hi is not None:
        rule = {"operator": "between", "formula1": _excel_number(lo), "formula2": _excel_number(hi)}
        text = f"{format_number(lo)} ～ {format_number(hi)}"
    elif lo is not None:
        rule = {"operator": "greaterThanOrEqual", "formula1": _excel_number(lo)}
        text = f"不小于 {format_number(lo)}"
    elif hi is not None:
        rule = {"operator": "lessThanOrEqual", "formula1": _excel_number(hi)}
        text = f"不大于 {format_number(hi)}"
    else:
        rule = {"operator": "between", "formula1": _excel_number(-_ANY), "formula2": _excel_number(_ANY)}
        text = ""
    what = "整数" if whole else "数字"
    unit = f" {m.unit}" if single and text else ""
    limits = f"，{text}{unit}" if text else ""
    name = m.name_zh or code
    return {
        "type": kind, **rule,
        "promptTitle": name[:32],
        "prompt": f"请填写{what}{limits}；单位在 unit 列选择。未统计请留空，不要填写文字或公式。"[:255],
        "errorTitle": "数值不符合要求",
        "error": f"{name}：应为{what}{limits}。请只填写阿拉伯数字，不要填写文字、区间或说明。"[:255],
    }


def xlsx_bytes(wb) -> bytes:
    """Save an openpyxl workbook reproducibly: fixed document dates and zip entry times."""
    raw = io.BytesIO()
    wb.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                              rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, data)
    return out.getvalue()


def _xlsx_bytes(cat: Catalogue, rows: list[list[str]], data_year: int, zone: str | None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "submission"
    ws.append(HEADER)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font, cell.fill = bold, fill
    for r in rows:
        zone_code, year, code, _value, unit, note = r
        ws.append([neutralise(zone_code) or None, int(year), neutralise(code), None, neutralise(unit),
                   neutralise(note)])
    n = len(rows)
    for i, m in enumerate(cat.measures.values(), start=2):
        ws.cell(row=i, column=2).number_format = "0"
        ws.cell(row=i, column=4).number_format = "0" if m.integer else "0.00####"
        ws.cell(row=i, column=4).alignment = Alignment(horizontal="right")
    ws.freeze_panes = "A2"
    for col, width in zip("ABCDEF", (34, 11, 26, 16, 14, 90)):
        ws.column_dimensions[col].width = width
    # the unit as a drop-down of the units accepted in this year (currency units only with a rate),
    # one validation per distinct list
    by_units: dict[str, list[str]] = {}
    for i, code in enumerate(cat.measures, start=2):
        units = ",".join(u.replace(",", "") for u in cat.units_for_year(code, data_year))
        if len(units) <= 250 and '"' not in units:
            by_units.setdefault(units, []).append(f"E{i}")
    for units, cells in by_units.items():
        dv = DataValidation(type="list", formula1=f'"{units}"', allow_blank=False, showErrorMessage=True,
                            showInputMessage=True, promptTitle="计量单位", prompt="请从下拉列表中选择单位",
                            errorTitle="计量单位不可用",
                            error=f"请选择该指标可用的单位：{units.replace(',', '、')}"[:255])
        for c in cells:
            dv.add(c)
        ws.add_data_validation(dv)
    # every value cell: a number, within the measure's bounds when it has a single unit
    for i, code in enumerate(cat.measures, start=2):
        dv = DataValidation(allow_blank=True, showErrorMessage=True, showInputMessage=True, errorStyle="stop",
                            **value_rule(cat, code, data_year))
        dv.add(f"D{i}")
        ws.add_data_validation(dv)
    # what identifies a row is locked (sheet protection without password, as on official forms: it prevents
    # mistakes, not tampering); value, unit and note stay editable, and the zone code when not prefilled
    editable = (4, 5, 6) if zone else (1, 4, 5, 6)
    for i in range(2, n + 2):
        for col in editable:
            ws.cell(row=i, column=col).protection = Protection(locked=False)
    ws.protection.sheet = True
    ws.protection.formatColumns = ws.protection.formatRows = ws.protection.autoFilter = False
    ws.auto_filter.ref = f"A1:F{n + 1}"

    info = wb.create_sheet("说明")
    lines = [
        f"{cat.name_zh}（{cat.version}）— {data_year} 年数据填报模板",
        "只填写第一个工作表：每行一个指标，在 value 列填写数字，unit 列选择单位；未统计的指标留空。",
        "zone_code 填写本开发区在名录中的代码" + (f"（已预填：{zone}）" if zone else "")
        + f"，data_year 为 {data_year}。",
        "园区代码、年份和指标代码列已锁定（工作表保护，无密码）；输入不符合要求的数值时 Excel 会提示。",
        "数字请勿带文字（如“约300”）；计数类指标填写整数；金额可用亿元或万元，外资可用万美元或亿美元。",
        *_currency_lines(cat, data_year),
        "保存为 xlsx 或 CSV（UTF-8 或 GBK 编码、逗号分隔）后提交。",
    ]
    for line in lines:
        info.append([neutralise(line)])
    info.column_dimensions["A"].width = 110
    return xlsx_bytes(wb)


def _currency_lines(cat: Catalogue, data_year: int) -> list[str]:
    """The notes on amounts in another currency: which units, at which rate, with a worked example each."""
    pairs = [(code, u) for code, m in cat.measures.items() for u in m.currency_units]
    if not pairs or cat.exchange_rates is None:
        return []
    usable = [(code, u) for code, u in pairs if cat.conversion(code, u, data_year) is not None]
    if not usable:
        names = "、".join(dict.fromkeys(u for _, u in pairs))
        return [f"外币单位（{names}）需要 {data_year} 年的汇率，本考核办法尚未收录；"
                "请使用 unit 列下拉列表中的单位填报。"]
    currencies = sorted({cat.measures[code].currency_units[u].currency for code, u in usable})
    rates = "、".join(f"1 {c} = {format_number(cat.exchange_rates.rate(c, data_year))} 元" for c in currencies)
    out = [f"外币金额按 {data_year} 年平均汇率（{rates}；来源：{cat.exchange_rates.source}）自动折算为规定单位，"
           f"按报送时的单位填写即可，例如："]
    examples: dict[tuple[str, str], str] = {}  # one example per (unit, canonical unit)
    for code, u in usable:
        m = cat.measures[code]
        conv = cat.conversion(code, u, data_year)
        examples.setdefault((u, m.unit), f"    {conv.explain(_EXAMPLE.get(u, 100.0), u, m.unit)}")  # type: ignore[union-attr]
    return out + list(examples.values())


# round figures of the kind zones report (docs/contract/02-inputs.md §2.3), for the worked examples of the notes
_EXAMPLE = {"亿美元": 24.7, "万美元": 3303.0, "万元": 21000.0, "亿元": 2.1}


def template_stem(data_year: int, zone: str | None = None) -> str:
    return f"etdz_template_{int(data_year)}" + (f"_{zone}" if zone else "")


def write_template(out_dir: str | Path, data_year: int, catalogues: list[Catalogue], zone: str | None = None,
                   registry: pd.DataFrame | None = None) -> list[Path]:
    """Write the CSV and XLSX submission templates of ``data_year`` into ``out_dir``; return their paths.

    Raises ValueError for an unknown or malformed zone code, and
    :class:`etdz.catalogue.MethodologyError` when no single catalogue applies to the year.
    """
    data_year = int(data_year)
    cat = catalogue_for_year(catalogues, data_year)
    if zone is not None:
        zone = str(zone).strip()
        _check_zone(zone, registry)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = _rows(cat, data_year, zone)
    stem = template_stem(data_year, zone)
    csv_path, xlsx_path = out / f"{stem}.csv", out / f"{stem}.xlsx"
    csv_path.write_bytes(_csv_bytes(rows))
    xlsx_path.write_bytes(_xlsx_bytes(cat, rows, data_year, zone))
    return [csv_path, xlsx_path]
