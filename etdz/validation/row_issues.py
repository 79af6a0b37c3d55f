"""Failing rows → issues: one GX failure (a row of the long frame and the check it failed) becomes an issue
naming the file, row and submission column, in Chinese, with what was found and what is expected."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.numbers import format_number, parse_value
from etdz.validation.checks import issue, range_text, rows_text, suggest, units_text, where
from etdz.validation.files import SubmissionFile
from etdz.validation.long_frame import conversion_note


def row_issue(f: SubmissionFile, r: pd.Series, check: str, bound: str | None, catalogue: Catalogue,
              dup_rows: dict) -> dict:
    """The issue of one failing row ``r`` of the long frame for ``check`` (``bound``: which side, when the check
    has two); ``dup_rows``: (file_idx, measure) → the rows of a measure listed more than once."""
    row = None if pd.isna(r["row"]) else int(r["row"])
    code = r["measure_code"] if isinstance(r["measure_code"], str) else ""
    m = catalogue.measures.get(code)
    mname = f"{code}（{m.name_zh}）" if m else code
    value_raw = r["value_raw"] if isinstance(r["value_raw"], str) else ""
    unit_raw = r["unit_raw"] if isinstance(r["unit_raw"], str) else ""
    conv = "" if pd.isna(r["value"]) else format_number(float(r["value"]))
    conv_txt = f"（折算为 {conv} {m.unit}）" if m and r["unit_checked"] != m.unit and conv else ""
    rate_txt = ""  # a currency unit: the conversion step by step, in every message about the value
    if m and conv and not pd.isna(r["rate"]):
        note = conversion_note(catalogue, code, r["unit_checked"], f.expected_year, float(r["reported"]))
        conv_txt = rate_txt = f"（{note}）"
    w = where(f, row, "value")
    if check == "row.unknown_measure":
        col = "measure_code"
        if code == "":
            msg = f"{where(f, row, col)}为空：请填写本年度考核办法中的指标代码"
        else:
            msg = (f"{where(f, row, col)}的指标代码「{code}」不在本年度考核办法（{catalogue.version}）中"
                   f"{suggest(code, catalogue.measures)}；请改用模板中的指标代码，或删除该行")
        return issue(f, check, msg, row=row, column=col, value=code, expected="本年度考核办法的指标代码（区分大小写）")
    if check == "row.unknown_unit":
        units = units_text(catalogue, code, f.expected_year)
        msg = f"{where(f, row, 'unit')}的计量单位「{unit_raw or '（空）'}」不适用于指标 {mname}；可接受的单位：{units}"
        return issue(f, check, msg, row=row, column="unit", value=unit_raw, expected=units)
    if check == "row.no_exchange_rate":
        units = units_text(catalogue, code, f.expected_year)
        currency = r["no_rate"]
        msg = (f"{where(f, row, 'unit')}的计量单位「{unit_raw}」是外币单位（{currency}），"
               f"但考核办法 {catalogue.version}（{Path(catalogue.path).name}）"
               f"没有 {f.expected_year} 年的 {currency} 年平均汇率，指标 {mname} 无法折算为 {m.unit}；"
               f"请改用 {units} 填报，或由考核办法的维护者在 exchange_rates 中补充 {f.expected_year} 年的汇率")
        return issue(f, check, msg, row=row, column="unit", value=unit_raw,
                     expected=f"{f.expected_year} 年有汇率的单位：{units}")
    if check == "row.invalid_value":
        reason = parse_value(value_raw, percent_ok=bool(m and m.unit == "%")).error or "不是数值"
        msg = (f"{w}的数值「{value_raw}」无效（{reason}），指标 {mname}。"
               f"请只填写阿拉伯数字（可带小数点和负号），不要填写文字、区间或说明；不报送请留空")
        return issue(f, check, msg, row=row, column="value", value=value_raw, expected="数值，如 -3、12.5、2e-06")
    if check == "row.formula":
        col = r["formula_col"]
        formula = value_raw if col == "value" else None  # only the value column keeps the formula's text
        msg = (f"{where(f, row, col)}是公式（{formula or ''}），系统不计算公式；"
               f"请把该单元格改为数值本身（复制后“选择性粘贴—数值”）")
        return issue(f, check, msg, row=row, column=col, value=formula, expected="数值或文本，不能是公式")
    if check == "row.field_count":
        msg = (f"{where(f, row)}的字段数多于表头（多出：{r['overflow']}）；"
               f"常见原因是数值中的千位分隔逗号没有加引号。请去掉数值中的逗号后重新保存")
        return issue(f, check, msg, row=row, column=None, value=r["overflow"], expected="每行字段数不超过表头列数")
    if check == "row.number_normalised":
        msg = f"{w}的数值「{value_raw}」已按 {r['normalised']} 规范化为 {r['value_text']}，请核对"
        return issue(f, check, msg, row=row, column="value", value=value_raw, expected=r["value_text"])
    if check == "row.duplicate_measure":
        others = rows_text(dup_rows.get((r["file_idx"], code), []))  # bounded: the issue list stays linear
        msg = (f"{where(f, row, 'measure_code')}：指标 {mname} 在文件中出现了不止一次（第 {others} 行）；"
               f"每个指标只能填写一行，请删除重复的行")
        return issue(f, check, msg, row=row, column="measure_code", value=code, expected="每个指标只出现一次")
    if check == "row.hard_bounds":
        rng = range_text(m.hard_min, m.hard_max, m.unit)
        side = "低于下限" if bound == "hard_min" else "高于上限"
        msg = f"{w}：指标 {mname} 的数值 {value_raw} {unit_raw}{conv_txt}{side}，允许范围 {rng}；请核对数值和单位"
        return issue(f, check, msg, row=row, column="value", value=value_raw, expected=rng)
    if check == "row.not_integer":
        msg = f"{w}：指标 {mname} 是计数，应为整数，但数值为 {value_raw} {unit_raw}{conv_txt}；请填写整数"
        return issue(f, check, msg, row=row, column="value", value=value_raw, expected=f"整数（{m.unit}）")
    if check == "row.required_missing":
        if r["origin"] == "absent":
            msg = (f"{where(f)}：缺少必填指标 {mname}（考核指标要用到它），"
                   f"该指标将按缺失处理、得 0 分；如有数据请补报")
            return issue(f, "file.required_absent", msg, column="measure_code", value=None, expected=code)
        msg = f"{w}：必填指标 {mname} 的数值为空，该指标将按缺失处理、得 0 分；如有数据请补报"
        return issue(f, check, msg, row=row, column="value", value="", expected=f"数值（{m.unit}）")
    if check == "row.soft_range":
        rng = range_text(m.soft_min, m.soft_max, m.unit)
        msg = (f"{w}：指标 {mname} 的数值 {value_raw} {unit_raw}{conv_txt}超出通常范围 {rng}，"
               f"请核对数值和单位（已接收）")
        return issue(f, check, msg, row=row, column="value", value=value_raw, expected=rng)
    if check == "row.not_above":
        tcode = r["not_above_code"]
        tm = catalogue.measures[tcode]
        limit = format_number(float(r["not_above_value"]))
        msg = (f"{w}：指标 {mname} 的数值 {conv} {m.unit}{rate_txt} 大于 {tcode}（{tm.name_zh}）的数值 "
               f"{limit} {tm.unit}，通常不应超过；请核对（已接收）")
        return issue(f, check, msg, row=row, column="value", value=value_raw,
                     expected=f"≤ {tcode}（{limit} {tm.unit}）")
    if check == "row.yoy_change":
        fac = format_number(m.soft_max_yoy_factor)
        msg = (f"{w}：指标 {mname} 的数值 {conv} {m.unit}{rate_txt} "
               f"与上年已接收的 {format_number(float(r['previous']))} {m.unit} 相比"
               f"变化超过 {fac} 倍（比值 {float(r['yoy_ratio']):.3g}），请核对数值和单位（已接收）")
        return issue(f, check, msg, row=row, column="value", value=value_raw,
                     expected=f"上年的 1/{fac} ～ {fac} 倍")
    raise KeyError(check)
