"""The submission template of a data year (``etdz template --data-year Y [--zone CODE]``).

One row per measure of Y's catalogue, in catalogue order, with the canonical unit, an empty
value, and a note carrying the measure's Chinese name, whether it is required, whether it is a
count and the units it accepts. Written twice: as CSV (UTF-8 with BOM, so Excel on a Chinese
Windows machine shows the characters right) and as XLSX (frozen header, column widths, the value
column formatted as a number, a list of accepted units per row, a second sheet 说明 with
instructions; the first sheet is the submission). ``data_year`` is always prefilled; ``zone_code``
when a zone is given (checked against the registry). A filled-in template passes ``etdz validate``.

File names come from the year and the zone *code* only (``etdz_template_2022.csv``,
``etdz_template_2022_jiangsu-suzhou-industrial-park.xlsx``): codes are ``[A-Za-z0-9_-]``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from etdz.catalogue import Catalogue, Measure, catalogue_for_year
from etdz.escape import spreadsheet_text as neutralise

HEADER = ["zone_code", "data_year", "measure_code", "value", "unit", "note"]
_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _fmt_factor(f: float) -> str:
    if f == int(f):
        return str(int(f))
    return f"{f:.12f}".rstrip("0")


def measure_note(m: Measure, required: bool) -> str:
    """The note of a measure's row: name, required or optional, count, accepted units with factors."""
    alts = [f"{u}（×{_fmt_factor(f)}）" for u, f in m.accepted_units.items() if u != m.unit]
    units = f"单位：{m.unit}" + (f"，也可用 {'、'.join(alts)}" if alts else "")
    parts = [m.name_zh or m.code, "必填" if required else "选填"]
    if m.integer:
        parts.append("整数")
    if m.hard_min is not None and m.hard_min >= 0 and m.hard_max is None:
        parts.append("不得为负")
    parts.append(units)
    return "；".join(parts)


def _rows(cat: Catalogue, data_year: int, zone: str | None) -> list[list[str]]:
    required = set(cat.required_measures)
    return [[zone or "", str(data_year), code, "", m.unit, measure_note(m, code in required)]
            for code, m in cat.measures.items()]


def _check_zone(zone: str, registry: pd.DataFrame | None) -> None:
    if not _CODE.fullmatch(zone):
        raise ValueError(f"zone code {zone!r} is not valid: zone codes are 1-40 characters of A-Z a-z 0-9 _ -")
    if registry is None:
        from etdz.registry import load_registry

        registry = load_registry()
    codes = set(registry["zone_code"].astype(str))
    if zone not in codes:
        close = sorted(c for c in codes if zone.lower() in c.lower() or c.lower() in zone.lower())[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"zone {zone!r} is not in the zone registry{hint}; "
                         f"see the registry's zone_code column (ETDZ_REGISTRY)")


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    w.writerows([[neutralise(c) for c in r] for r in rows])
    return buf.getvalue().encode("utf-8-sig")


def _xlsx_bytes(cat: Catalogue, rows: list[list[str]], data_year: int, zone: str | None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from etdz.demo_data import xlsx_bytes

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
        ws.append([neutralise(zone_code) or None, int(year), neutralise(code), None, neutralise(unit), neutralise(note)])
    n = len(rows)
    for i, (code, m) in enumerate(cat.measures.items(), start=2):
        ws.cell(row=i, column=2).number_format = "0"
        ws.cell(row=i, column=4).number_format = "0" if m.integer else "0.00####"
        ws.cell(row=i, column=4).alignment = Alignment(horizontal="right")
    ws.freeze_panes = "A2"
    for col, width in zip("ABCDEF", (34, 11, 26, 16, 14, 90)):
        ws.column_dimensions[col].width = width
    # accepted units as a drop-down per row (one validation per distinct unit list)
    by_units: dict[str, list[str]] = {}
    for i, m in enumerate(cat.measures.values(), start=2):
        units = ",".join(u.replace(",", "") for u in m.accepted_units)
        if len(units) <= 250 and not any(c in units for c in '"'):
            by_units.setdefault(units, []).append(f"E{i}")
    for units, cells in by_units.items():
        dv = DataValidation(type="list", formula1=f'"{units}"', allow_blank=False, showErrorMessage=True,
                            errorTitle="单位", error="请选择该指标可用的单位")
        for c in cells:
            dv.add(c)
        ws.add_data_validation(dv)
    num = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                         showErrorMessage=True, errorTitle="数值", error="请填写不小于0的数字（不要填写文字）")
    num_cells = [f"D{i}" for i, m in enumerate(cat.measures.values(), start=2)
                 if m.hard_min is not None and m.hard_min >= 0]
    if num_cells:
        for c in num_cells:
            num.add(c)
        ws.add_data_validation(num)
    ws.auto_filter.ref = f"A1:F{n + 1}"

    info = wb.create_sheet("说明")
    lines = [
        f"{cat.name_zh}（{cat.version}）— {data_year} 年数据填报模板",
        "只填写第一个工作表：每行一个指标，在 value 列填写数字，unit 列选择单位；未统计的指标留空。",
        "zone_code 填写本开发区在名录中的代码" + (f"（已预填：{zone}）" if zone else "") + f"，data_year 为 {data_year}。",
        "数字请勿带文字（如“约300”）；计数类指标填写整数；金额可用亿元或万元，外资可用万美元或亿美元。",
        "保存为 xlsx 或 CSV（UTF-8 或 GBK 编码、逗号分隔）后提交。",
    ]
    for line in lines:
        info.append([neutralise(line)])
    info.column_dimensions["A"].width = 110
    return xlsx_bytes(wb)


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
