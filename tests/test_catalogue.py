"""The catalogue loader refuses every broken rule of docs/contract/02-inputs.md §2.3 with file, entry and rule."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from etdz.catalogue import CatalogueError, MethodologyError, catalogue_for_year, load_catalogue, load_catalogues

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "catalogues" / "g1.yaml"

BASE = {
    "version": "X1", "data_years": {"from": 2020, "to": None},
    "categories": [{"code": "A", "weight": 0.4}, {"code": "B", "weight": 0.6}],
    "measures": [{"code": "m1", "unit": "亿元", "accepted_units": {"万元": 0.0001}},
                 {"code": "m2", "unit": "家", "integer": True},
                 {"code": "unused", "unit": "个"}],
    "indicators": [{"code": "I1", "category": "A", "direction": "higher", "kind": "value", "measure": "m1"},
                   {"code": "I2", "category": "B", "direction": "lower", "kind": "ratio", "numerator": "m1",
                    "denominator": "m2", "scale": 100}],
}


def write(tmp_path: Path, doc: dict, name: str = "x.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return p


def test_shipped_catalogues_match_05_indicators():
    cats = {c.version: c for c in load_catalogues()}
    assert set(cats) == {"2016", "2021"}
    c21, c16 = cats["2021"], cats["2016"]
    assert [len(c21.indicators_of(k.code)) for k in c21.categories] == [7, 7, 6, 5, 4]
    assert {k.code: k.weight for k in c21.categories} == {"OPN": 0.3, "QLT": 0.3, "INN": 0.15, "GRN": 0.15, "CRD": 0.1}
    assert len(c16.indicators) == 24 and len(c21.measures) == len(c16.measures) == 34
    assert c21.downgrade.rule == "regional_bottom" and c16.downgrade.rule == "national_consecutive"
    assert c21.top_lists == c16.top_lists == ("fdi_actual", "trade_total")
    assert all(i.source for i in c21.indicators) and all(m.source for m in c21.measures.values())
    assert c21.measures["trade_total"].accepted_units == {"亿元": 1.0, "万元": 0.0001, "元": 1e-8}
    for c in (c16, c21):
        assert "统计公报" in c.exchange_rates.source
        assert c.exchange_rates.rates["USD"] == {2015: 6.2284, 2016: 6.6423, 2017: 6.7518, 2018: 6.6174, 2019: 6.8985,
                                                 2020: 6.8976, 2021: 6.4515, 2022: 6.7261, 2023: 7.0467, 2024: 7.1217}
        for code in ("trade_total", "city_trade_total", "hitech_trade"):
            assert set(c.measures[code].currency_units) == {"亿美元", "万美元"}
        for code in ("fdi_actual", "city_fdi_actual"):
            assert set(c.measures[code].currency_units) == {"万元", "亿元"}
            assert all(u.invert for u in c.measures[code].currency_units.values())
    assert c21.measures["solid_waste_utilized"].not_above == "solid_waste_generated"
    assert catalogue_for_year(cats.values(), 2020).version == "2016"
    assert catalogue_for_year(cats.values(), 2021).version == "2021"


def test_a_catalogue_is_parsed_once_until_its_file_changes(tmp_path):
    p = write(tmp_path, BASE)
    first = load_catalogue(p)
    assert load_catalogue(p) is first  # the same bytes: the parsed catalogue again (a run loads it 7 times)
    edited = copy.deepcopy(BASE)
    edited["version"] = "X2"
    write(tmp_path, edited)
    again = load_catalogue(p)
    assert again.version == "X2" and again.sha256 != first.sha256  # an edited file is parsed again
    p.write_text("version: [", encoding="utf-8")
    with pytest.raises(CatalogueError):  # and a broken one refused, never served from the memo
        load_catalogue(p)


def test_defaults_and_required_measures(tmp_path):
    c = load_catalogue(write(tmp_path, BASE))
    assert c.summons_bottom_n == 10 and c.downgrade is None and c.winsorise is None and c.top_lists == ()
    assert c.required_measures == ("m1", "m2")
    assert c.measures["m1"].accepted_units == {"亿元": 1.0, "万元": 0.0001}
    assert c.indicators[0].weight == 1.0 and c.indicators[0].scale == 1.0
    assert c.name_zh == "X1"


RATES = {"source": "国家统计局统计公报", "USD": {2020: 6.8976, 2021: 6.4515}}


def test_currency_units_convert_at_the_data_years_rate(tmp_path):
    doc = mutate(lambda d: (d.update(exchange_rates=RATES), d["measures"][0]["accepted_units"].update(
        {"亿美元": {"currency": "USD", "factor": 1}, "万美元": {"currency": "USD", "factor": 0.0001}}),
        d["measures"].append({"code": "fdi", "unit": "万美元",
                              "accepted_units": {"万元": {"currency": "USD", "invert": True}}})))
    c = load_catalogue(write(tmp_path, doc))
    units = c.measures["m1"].units  # plain units first (write() sorts the keys of the YAML)
    assert units[0] == "亿元" and set(units[1:2]) == {"万元"} and set(units[2:]) == {"亿美元", "万美元"}
    assert c.conversion("m1", "亿美元", 2021).apply(24.7) == 24.7 * 6.4515
    assert c.conversion("m1", "万美元", 2020).apply(3303) == 3303 * 6.8976 * 0.0001
    assert c.conversion("fdi", "万元", 2021).apply(21000) == 21000 / 6.4515
    assert c.conversion("m1", "万元", 2021).rate is None  # a plain factor needs no rate
    assert c.conversion("m1", "亿美元", 2019) is None  # no rate that year: row.no_exchange_rate
    assert c.units_for_year("m1", 2019) == ("亿元", "万元")
    assert c.units_for_year("m1", 2021) == units


def test_rates_are_never_judged_against_today(tmp_path):
    """Rates of long-past years only: the catalogue loads, whatever today's date."""
    doc = mutate(lambda d: (d.update(exchange_rates={"source": "x", "USD": {1990: 4.7832}}),
                            d["measures"][0]["accepted_units"].update({"亿美元": {"currency": "USD"}})))
    c = load_catalogue(write(tmp_path, doc))
    assert c.conversion("m1", "亿美元", 1990).rate == 4.7832


def test_golden_catalogue_loads():
    if not GOLDEN.exists():
        pytest.skip("shared golden example not present")
    c = load_catalogue(GOLDEN)
    assert c.version == "G1" and c.winsorise == (0.1, 0.9) and c.downgrade.bottom_n == 2


RULE = {"left": "m1", "op": "<=", "right": "m2", "tolerance": 0.05}


def mutate(fn):
    doc = copy.deepcopy(BASE)
    fn(doc)
    return doc


BROKEN = [
    ("weights", lambda d: d["categories"][0].update(weight=0.5), "categories", "sum to 1"),
    ("unknown_key", lambda d: d["indicators"][0].update(wieght=2), "indicator I1", "unknown key"),
    ("unknown_top", lambda d: d.update(normalization={"winsorise": None}), "(top level)", "unknown key"),
    ("empty_category", lambda d: d["categories"].append({"code": "C", "weight": 0.0}), "category C", "no indicator"),
    ("bad_category", lambda d: d["indicators"][0].update(category="Z"), "indicator I1", "not a category"),
    ("bad_measure", lambda d: d["indicators"][0].update(measure="nope"), "indicator I1", "not a measure"),
    ("dup_indicator", lambda d: d["indicators"].append(dict(d["indicators"][0])), "indicator I1", "duplicate"),
    ("dup_measure", lambda d: d["measures"].append({"code": "m1", "unit": "x"}), "measure m1", "duplicate"),
    ("dup_category", lambda d: d["categories"].append({"code": "A", "weight": 0}), "category A", "duplicate"),
    ("bad_kind", lambda d: d["indicators"][0].update(kind="index"), "indicator I1", "kind"),
    ("ratio_without_denominator", lambda d: d["indicators"][1].pop("denominator"), "indicator I2", "needs"),
    ("value_with_numerator", lambda d: d["indicators"][0].update(numerator="m1"), "indicator I1", "do not apply"),
    ("top_level_source", lambda d: d.update(source="x"), "(top level)", "unknown key"),
    ("all_weights_zero", lambda d: d["indicators"][0].update(weight=0), "category A", "sum to 0"),
    ("bad_direction", lambda d: d["indicators"][0].update(direction="up"), "indicator I1", "direction"),
    ("bad_winsorise", lambda d: d.update(normalisation={"winsorise": [0.9, 0.1]}), "normalisation.winsorise", "0 <= a"),
    ("bad_rule", lambda d: d.update(downgrade={"rule": "worst", "bottom_n": 5}), "downgrade.rule", "one of"),
    ("regional_needs_window", lambda d: d.update(downgrade={"rule": "regional_bottom", "bottom_n": 5}),
     "downgrade", "window"),
    ("bad_top_list", lambda d: d.update(top_lists=["gdp"]), "top_lists", "not a measure"),
    ("bad_not_above", lambda d: d["measures"][0].update(not_above="gdp"), "measure m1", "not_above"),
    ("bad_factor", lambda d: d["measures"][0].update(accepted_units={"万元": -1}), "measure m1.accepted_units", "> 0"),
    ("no_version", lambda d: d.pop("version"), "(top level)", "version"),
    ("years_reversed", lambda d: d.update(data_years={"from": 2022, "to": 2020}), "data_years", "before"),
    ("integer_flag", lambda d: d["measures"][1].update(integer="yes"), "measure m2", "true or false"),
    ("rates_without_source", lambda d: d.update(exchange_rates={"USD": {2021: 6.4515}}), "exchange_rates", "source"),
    ("rates_with_gap", lambda d: d.update(exchange_rates=dict(RATES, USD={2019: 6.9, 2021: 6.45})),
     "exchange_rates.USD", "no rate for 2020"),
    ("rate_not_positive", lambda d: d.update(exchange_rates=dict(RATES, USD={2021: 0})), "exchange_rates.USD", "> 0"),
    ("rate_year_text", lambda d: d.update(exchange_rates=dict(RATES, USD={"2021年": 6.4})), "exchange_rates.USD",
     "years"),
    ("bad_currency_code", lambda d: d.update(exchange_rates=dict(RATES, dollar={2021: 6.4})), "exchange_rates.dollar",
     "ISO 4217"),
    ("currency_without_rates", lambda d: d["measures"][0]["accepted_units"].update({"亿美元": {"currency": "USD"}}),
     "measure m1.accepted_units.亿美元", "no rates"),
    ("currency_unit_typo", lambda d: (d.update(exchange_rates=RATES), d["measures"][0]["accepted_units"].update(
        {"亿美元": {"currency": "USD", "inverse": True}})), "measure m1.accepted_units.亿美元", "unknown key"),
    ("currency_unit_invert_text", lambda d: (d.update(exchange_rates=RATES), d["measures"][0]["accepted_units"].update(
        {"亿美元": {"currency": "USD", "invert": "yes"}})), "measure m1.accepted_units.亿美元", "true or false"),
    ("currency_unit_bad_factor", lambda d: (d.update(exchange_rates=RATES), d["measures"][0]["accepted_units"].update(
        {"亿美元": {"currency": "USD", "factor": -1}})), "measure m1.accepted_units.亿美元", "> 0"),
    ("canonical_as_currency", lambda d: (d.update(exchange_rates=RATES), d["measures"][0]["accepted_units"].update(
        {"亿元": {"currency": "USD"}})), "measure m1.accepted_units", "canonical unit"),
    ("hard_bounds_reversed", lambda d: d["measures"][0].update(hard_min=5, hard_max=1), "measure m1", "greater"),
    # consistency rules (02-inputs.md §2.3 "Consistency rules")
    ("rules_not_a_list", lambda d: d.update(consistency={"left": "m1"}), "consistency", "must be a list"),
    ("rule_unknown_left", lambda d: d.update(consistency=[dict(RULE, left="gdp")]), "consistency[1] (gdp <= m2)",
     "`left` names 'gdp', which is not a measure"),
    ("rule_unknown_right", lambda d: d.update(consistency=[RULE, dict(RULE, right="city_gdp")]),
     "consistency[2] (m1 <= city_gdp)", "`right` names 'city_gdp', which is not a measure"),
    ("rule_bad_op", lambda d: d.update(consistency=[dict(RULE, op="=<")]), "consistency[1] (m1 =< m2)", "`op`"),
    ("rule_same_measure", lambda d: d.update(consistency=[dict(RULE, right="m1")]), "consistency[1] (m1 <= m1)",
     "same measure"),
    ("rule_without_tolerance", lambda d: d.update(consistency=[{"left": "m1", "op": "<=", "right": "m2"}]),
     "consistency[1]", "missing required key(s) ['tolerance']"),
    ("rule_null_tolerance", lambda d: d.update(consistency=[dict(RULE, tolerance=None)]),
     "consistency[1] (m1 <= m2)", "`tolerance` must be a number >= 0"),
    ("rule_negative_tolerance", lambda d: d.update(consistency=[dict(RULE, tolerance=-0.05)]),
     "consistency[1] (m1 <= m2)", ">= 0"),
    ("rule_tolerance_text", lambda d: d.update(consistency=[dict(RULE, tolerance="5%")]),
     "consistency[1] (m1 <= m2)", "finite number"),
    ("rule_unknown_key", lambda d: d.update(consistency=[dict(RULE, tolerence=0.05)]), "consistency[1]",
     "unknown key"),
    ("rule_twice", lambda d: d.update(consistency=[RULE, RULE]), "consistency[2] (m1 <= m2)", "declared twice"),
    ("rule_not_a_mapping", lambda d: d.update(consistency=["m1 <= m2"]), "consistency[1]", "must be a mapping"),
]


@pytest.mark.parametrize("name,fn,entry,rule", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_catalogue_is_refused_naming_file_entry_and_rule(tmp_path, name, fn, entry, rule):
    path = write(tmp_path, mutate(fn))
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(path)
    assert exc.value.entry == entry
    assert rule in exc.value.rule
    assert str(path) in str(exc.value)


def test_not_yaml_is_refused(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_bytes(b"version: [unclosed\n")
    with pytest.raises(CatalogueError, match="not valid UTF-8 YAML"):
        load_catalogue(p)


def test_year_matched_by_no_catalogue_or_two_fails_clearly(tmp_path):
    write(tmp_path, BASE, "a.yaml")
    write(tmp_path, dict(BASE, version="X2", data_years={"from": 2022, "to": None}), "b.yaml")
    cats = load_catalogues(tmp_path)
    with pytest.raises(MethodologyError, match="no methodology catalogue applies to data year 2019"):
        catalogue_for_year(cats, 2019)
    with pytest.raises(MethodologyError, match="more than one catalogue"):
        catalogue_for_year(cats, 2023)
    assert catalogue_for_year(cats, 2021).version == "X1"


def test_duplicate_versions_in_a_folder_are_refused(tmp_path):
    write(tmp_path, BASE, "a.yaml")
    write(tmp_path, dict(BASE, data_years={"from": 2030, "to": None}), "b.yaml")
    with pytest.raises(CatalogueError, match="also declared"):
        load_catalogues(tmp_path)


def test_what_the_contract_does_not_forbid_loads(tmp_path):
    """times > window, a zero-weight indicator beside others, `scale` on a value indicator: all in the format."""
    doc = mutate(lambda d: (d.update(downgrade={"rule": "regional_bottom", "bottom_n": 5, "window": 2, "times": 3}),
                            d["indicators"].append({"code": "I3", "category": "A", "direction": "higher",
                                                    "kind": "value", "measure": "m2", "weight": 0, "scale": 10})))
    c = load_catalogue(write(tmp_path, doc))
    assert c.downgrade.times == 3 and c.indicators[2].weight == 0.0


def test_consistency_rules_load_with_every_operator(tmp_path):
    ops = ["<=", "<", ">=", ">"]
    rules = [dict(RULE, op=op, tolerance=t) for op, t in zip(ops, (0.05, 0, 0.1, 1))]
    doc = mutate(lambda d: d.update(consistency=rules))
    c = load_catalogue(write(tmp_path, doc))
    assert [(r.left, r.op, r.right, r.tolerance) for r in c.consistency] == [
        ("m1", "<=", "m2", 0.05), ("m1", "<", "m2", 0.0), ("m1", ">=", "m2", 0.1), ("m1", ">", "m2", 1.0)]
    le, lt, ge, _ = c.consistency
    assert le.text == "m1 <= m2（容差 5%）" and le.upper and not le.strict and lt.strict and not ge.upper
    # the contract's bound for a non-negative right figure, bit for bit: right × (1 ± tolerance)
    assert le.limit(900.0) == 900.0 * 1.05 and ge.limit(900.0) == 900.0 * (1 - 0.1) and lt.limit(900.0) == 900.0
    assert le.limit(-100.0) == pytest.approx(-95.0) and ge.limit(-100.0) == pytest.approx(-110.0)  # still wider
    assert load_catalogue(write(tmp_path, mutate(lambda d: d.update(consistency=None)), "n.yaml")).consistency == ()


def test_convert_is_the_one_conversion_for_numbers_and_columns():
    import numpy as np

    from etdz.catalogue import Conversion, convert

    assert convert(5000.0, 0.0001) == 0.5  # 5000 万元 = 0.5 亿元
    assert convert(24.7, 1.0, 6.4515) == 24.7 * 6.4515 and convert(10.0, 1.0, 4.0, invert=True) == 2.5
    reported, factor = np.array([5000.0, 3.0, np.nan]), np.array([0.0001, 1.0, 0.0001])
    assert np.array_equal(convert(reported, factor), [Conversion(f).apply(v) for v, f in zip(reported, factor)],
                          equal_nan=True)
    assert Conversion(0.1, rate=7.0, invert=True).apply(14.0) == convert(14.0, 0.1, 7.0, True)


def test_an_indicator_s_unit_is_its_measure_s_or_percent_or_a_ratio_of_units():
    from etdz.catalogue import indicator_unit
    from tests.scoring.conftest import make_catalogue
    inds = [{"code": "V", "category": "A", "direction": "higher", "kind": "value", "measure": "x"},
            {"code": "R1", "category": "A", "direction": "higher", "kind": "ratio", "numerator": "x",
             "denominator": "y", "scale": 1},
            {"code": "R100", "category": "A", "direction": "higher", "kind": "ratio", "numerator": "x",
             "denominator": "y", "scale": 100},
            {"code": "R10", "category": "A", "direction": "higher", "kind": "ratio", "numerator": "x",
             "denominator": "y", "scale": 10}]
    cat = make_catalogue(inds, measures=[{"code": "x", "unit": "万元"}, {"code": "y", "unit": "人"}])
    units = {i.code: indicator_unit(i, cat) for i in cat.indicators}
    assert units == {"V": "万元", "R1": "万元/人", "R100": "%", "R10": "万元/人 ×10"}
