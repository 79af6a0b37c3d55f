"""Failing rows → issues: one GX failure (a row of the long frame and the check it failed) becomes an issue
naming the file, row and submission column, in Chinese, with what was found and what is expected.

:func:`row_issue` gathers what every message needs about the row (:class:`FailingRow`) and hands it to the
check's own wording function (:data:`_WORDING`, one function per check code)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from etdz.catalogue import CONSISTENCY_OPS, Catalogue, Measure
from etdz.numbers import format_number, parse_value
from etdz.validation.checks import issue, range_text, rows_text, suggest, units_text, where
from etdz.validation.files import SubmissionFile
from etdz.validation.long_frame import conversion_note


@dataclass(frozen=True)
class FailingRow:
    """One failing row of the long frame, with the texts the messages share."""

    f: SubmissionFile
    r: pd.Series  # the row of the long frame
    check: str
    bound: str | None  # which side failed, for a check with two ("hard_min" / "hard_max")
    catalogue: Catalogue
    dup_rows: dict  # (file_idx, measure) → the rows of a measure listed more than once
    row: int | None  # the Excel row number; None for a required measure the file does not list
    code: str  # the measure code as submitted ("" when empty)
    m: Measure | None  # its catalogue entry
    mname: str  # "code（中文名）"
    value_raw: str
    unit_raw: str
    conv: str  # the canonical value as text ("" when there is none)
    conv_txt: str  # "（折算为 …）" / the currency conversion, after a reported value
    rate_txt: str  # the currency conversion alone, after a canonical value
    w: str  # where(file, row, "value")
    meta: dict  # the expectation's meta (a consistency rule: its severity, slot and rules)


def row_issue(f: SubmissionFile, r: pd.Series, check: str, bound: str | None, catalogue: Catalogue,
              dup_rows: dict, meta: dict | None = None) -> dict:
    """The issue of one failing row ``r`` of the long frame for ``check`` (``bound``: which side, when the check
    has two); ``dup_rows``: (file_idx, measure) → the rows of a measure listed more than once; ``meta``: the
    failed expectation's meta (needed for ``row.inconsistent``: its severity and its slot's rules)."""
    row = None if pd.isna(r["row"]) else int(r["row"])
    code = r["measure_code"] if isinstance(r["measure_code"], str) else ""
    m = catalogue.measures.get(code)
    conv = "" if pd.isna(r["value"]) else format_number(float(r["value"]))
    conv_txt = f"（折算为 {conv} {m.unit}）" if m and r["unit_checked"] != m.unit and conv else ""
    rate_txt = ""  # a currency unit: the conversion step by step, in every message about the value
    if m and conv and not pd.isna(r["rate"]):
        note = conversion_note(catalogue, code, r["unit_checked"], f.expected_year, float(r["reported"]))
        conv_txt = rate_txt = f"（{note}）"
    ctx = FailingRow(f=f, r=r, check=check, bound=bound, catalogue=catalogue, dup_rows=dup_rows, row=row, code=code,
                     m=m, mname=f"{code}（{m.name_zh}）" if m else code,
                     value_raw=r["value_raw"] if isinstance(r["value_raw"], str) else "",
                     unit_raw=r["unit_raw"] if isinstance(r["unit_raw"], str) else "",
                     conv=conv, conv_txt=conv_txt, rate_txt=rate_txt, w=where(f, row, "value"), meta=meta or {})
    return _WORDING[check](ctx)


def _unknown_measure(x: FailingRow) -> dict:
    col = "measure_code"
    if x.code == "":
        msg = f"{where(x.f, x.row, col)}为空：请填写本年度考核办法中的指标代码"
    else:
        msg = (f"{where(x.f, x.row, col)}的指标代码「{x.code}」不在本年度考核办法（{x.catalogue.version}）中"
               f"{suggest(x.code, x.catalogue.measures)}；请改用模板中的指标代码，或删除该行")
    return issue(x.f, x.check, msg, row=x.row, column=col, value=x.code,
                 expected="本年度考核办法的指标代码（区分大小写）")


def _unknown_unit(x: FailingRow) -> dict:
    units = units_text(x.catalogue, x.code, x.f.expected_year)
    msg = (f"{where(x.f, x.row, 'unit')}的计量单位「{x.unit_raw or '（空）'}」不适用于指标 {x.mname}；"
           f"可接受的单位：{units}")
    return issue(x.f, x.check, msg, row=x.row, column="unit", value=x.unit_raw, expected=units)


def _no_exchange_rate(x: FailingRow) -> dict:
    year, units = x.f.expected_year, units_text(x.catalogue, x.code, x.f.expected_year)
    currency = x.r["no_rate"]
    msg = (f"{where(x.f, x.row, 'unit')}的计量单位「{x.unit_raw}」是外币单位（{currency}），"
           f"但考核办法 {x.catalogue.version}（{Path(x.catalogue.path).name}）"
           f"没有 {year} 年的 {currency} 年平均汇率，指标 {x.mname} 无法折算为 {x.m.unit}；"  # type: ignore[union-attr]
           f"请改用 {units} 填报，或由考核办法的维护者在 exchange_rates 中补充 {year} 年的汇率")
    return issue(x.f, x.check, msg, row=x.row, column="unit", value=x.unit_raw,
                 expected=f"{year} 年有汇率的单位：{units}")


def _invalid_value(x: FailingRow) -> dict:
    parsed = parse_value(x.value_raw, percent_ok=bool(x.m and x.m.unit == "%"))
    if parsed.error:
        reason = parsed.error
    elif parsed.ok and x.m:  # parses, but overflows once converted to the canonical unit (long_frame._join_values)
        reason = f"按单位「{x.unit_raw}」换算为 {x.m.unit} 后超出可表示的数值范围"
    else:
        reason = "不是数值"
    msg = (f"{x.w}的数值「{x.value_raw}」无效（{reason}），指标 {x.mname}。"
           f"请只填写阿拉伯数字（可带小数点和负号），不要填写文字、区间或说明；不报送请留空")
    return issue(x.f, x.check, msg, row=x.row, column="value", value=x.value_raw, expected="数值，如 -3、12.5、2e-06")


def _formula(x: FailingRow) -> dict:
    col = x.r["formula_col"]
    formula = x.value_raw if col == "value" else None  # only the value column keeps the formula's text
    msg = (f"{where(x.f, x.row, col)}是公式（{formula or ''}），系统不计算公式；"
           f"请把该单元格改为数值本身（复制后“选择性粘贴—数值”）")
    return issue(x.f, x.check, msg, row=x.row, column=col, value=formula, expected="数值或文本，不能是公式")


def _field_count(x: FailingRow) -> dict:
    overflow = x.r["overflow"]
    msg = (f"{where(x.f, x.row)}的字段数多于表头（多出：{overflow}）；"
           f"常见原因是数值中的千位分隔逗号没有加引号。请去掉数值中的逗号后重新保存")
    return issue(x.f, x.check, msg, row=x.row, column=None, value=overflow, expected="每行字段数不超过表头列数")


def _number_normalised(x: FailingRow) -> dict:
    msg = f"{x.w}的数值「{x.value_raw}」已按 {x.r['normalised']} 规范化为 {x.r['value_text']}，请核对"
    return issue(x.f, x.check, msg, row=x.row, column="value", value=x.value_raw, expected=x.r["value_text"])


def _duplicate_measure(x: FailingRow) -> dict:
    others = rows_text(x.dup_rows.get((x.r["file_idx"], x.code), []))  # bounded: the issue list stays linear
    msg = (f"{where(x.f, x.row, 'measure_code')}：指标 {x.mname} 在文件中出现了不止一次（第 {others} 行）；"
           f"每个指标只能填写一行，请删除重复的行")
    return issue(x.f, x.check, msg, row=x.row, column="measure_code", value=x.code, expected="每个指标只出现一次")


def _hard_bounds(x: FailingRow) -> dict:
    m = x.m
    rng = range_text(m.hard_min, m.hard_max, m.unit)  # type: ignore[union-attr]
    side = "低于下限" if x.bound == "hard_min" else "高于上限"
    msg = f"{x.w}：指标 {x.mname} 的数值 {x.value_raw} {x.unit_raw}{x.conv_txt}{side}，允许范围 {rng}；请核对数值和单位"
    return issue(x.f, x.check, msg, row=x.row, column="value", value=x.value_raw, expected=rng)


def _not_integer(x: FailingRow) -> dict:
    msg = f"{x.w}：指标 {x.mname} 是计数，应为整数，但数值为 {x.value_raw} {x.unit_raw}{x.conv_txt}；请填写整数"
    return issue(x.f, x.check, msg, row=x.row, column="value", value=x.value_raw,
                 expected=f"整数（{x.m.unit}）")  # type: ignore[union-attr]


def _required_missing(x: FailingRow) -> dict:
    if x.r["origin"] == "absent":
        msg = (f"{where(x.f)}：缺少必填指标 {x.mname}（考核指标要用到它），"
               f"该指标将按缺失处理、得 0 分；如有数据请补报")
        return issue(x.f, "file.required_absent", msg, column="measure_code", value=None, expected=x.code)
    msg = f"{x.w}：必填指标 {x.mname} 的数值为空，该指标将按缺失处理、得 0 分；如有数据请补报"
    return issue(x.f, x.check, msg, row=x.row, column="value", value="",
                 expected=f"数值（{x.m.unit}）")  # type: ignore[union-attr]


def _soft_range(x: FailingRow) -> dict:
    m = x.m
    rng = range_text(m.soft_min, m.soft_max, m.unit)  # type: ignore[union-attr]
    msg = (f"{x.w}：指标 {x.mname} 的数值 {x.value_raw} {x.unit_raw}{x.conv_txt}超出通常范围 {rng}，"
           f"请核对数值和单位（已接收）")
    return issue(x.f, x.check, msg, row=x.row, column="value", value=x.value_raw, expected=rng)


def _not_above(x: FailingRow) -> dict:
    tcode = x.r["not_above_code"]
    tm = x.catalogue.measures[tcode]
    limit = format_number(float(x.r["not_above_value"]))
    msg = (f"{x.w}：指标 {x.mname} 的数值 {x.conv} {x.m.unit}{x.rate_txt} "  # type: ignore[union-attr]
           f"大于 {tcode}（{tm.name_zh}）的数值 {limit} {tm.unit}，通常不应超过；请核对（已接收）")
    return issue(x.f, x.check, msg, row=x.row, column="value", value=x.value_raw,
                 expected=f"≤ {tcode}（{limit} {tm.unit}）")


_SIGNS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}


def _inconsistent(x: FailingRow) -> dict:
    """A consistency rule broken (docs/contract/02-inputs.md §2.3): both measures, both figures with their units,
    the rule and, beyond the tolerance, the limit it allows."""
    slot = x.meta["slot"]
    rule = x.catalogue.consistency[x.meta["rules"][x.code]]
    rm = x.catalogue.measures[rule.right]
    right = format_number(float(x.r[f"consistency_{slot}_right"]))
    limit = format_number(float(x.r[f"consistency_{slot}_limit"]))
    right_row = x.r[f"consistency_{slot}_right_row"]
    at = "" if pd.isna(right_row) else f"，第 {int(right_row)} 行"
    bound = f"{'容差内' if rule.tolerance else ''}{'上' if rule.upper else '下'}限 {limit} {rm.unit}"
    found = (f"{x.w}：指标 {x.mname} 的数值 {x.value_raw} {x.unit_raw}{x.conv_txt}"
             f" {CONSISTENCY_OPS[rule.op]} {rule.right}（{rm.name_zh}{at}）的数值 {right} {rm.unit}，"
             f"不符合一致性规则「{rule.text}」")
    if x.meta["severity"] == "error":
        msg = (f"{found}，且超出容差（{bound}），文件被拒收；请核对两项的数值和单位（如万元与亿元是否混淆、"
               f"两项是否填反），更正后重新报送")
        expected = f"{_SIGNS[rule.op]} {limit} {rm.unit}（{rule.text}）"
    else:
        msg = f"{found}，但在容差之内（{bound}），可能是四舍五入或统计口径的差异；请核对（已接收）"
        expected = f"{_SIGNS[rule.op]} {right} {rm.unit}（{rule.right}）"
    return issue(x.f, x.check, msg, row=x.row, column="value", value=x.value_raw, expected=expected,
                 severity=x.meta["severity"])


def _yoy_change(x: FailingRow) -> dict:
    m = x.m
    fac = format_number(m.soft_max_yoy_factor)  # type: ignore[union-attr]
    msg = (f"{x.w}：指标 {x.mname} 的数值 {x.conv} {m.unit}{x.rate_txt} "  # type: ignore[union-attr]
           f"与上年已接收的 {format_number(float(x.r['previous']))} {m.unit} 相比"  # type: ignore[union-attr]
           f"变化超过 {fac} 倍（比值 {float(x.r['yoy_ratio']):.3g}），请核对数值和单位（已接收）")
    return issue(x.f, x.check, msg, row=x.row, column="value", value=x.value_raw,
                 expected=f"上年的 1/{fac} ～ {fac} 倍")


#: check code → the function that words its issue
_WORDING: dict[str, Callable[[FailingRow], dict]] = {
    "row.unknown_measure": _unknown_measure, "row.unknown_unit": _unknown_unit,
    "row.no_exchange_rate": _no_exchange_rate, "row.invalid_value": _invalid_value, "row.formula": _formula,
    "row.field_count": _field_count, "row.number_normalised": _number_normalised,
    "row.duplicate_measure": _duplicate_measure, "row.hard_bounds": _hard_bounds, "row.not_integer": _not_integer,
    "row.required_missing": _required_missing, "row.soft_range": _soft_range, "row.not_above": _not_above,
    "row.yoy_change": _yoy_change, "row.inconsistent": _inconsistent,
}
