"""Consistency rules (docs/contract/02-inputs.md §2.3 "Consistency rules"): checked by the GX suite, an error beyond
the tolerance, a warning within it, the message naming both figures and the rule — in the run and in the warm
check alike."""

from __future__ import annotations

import pandas as pd
import pytest

from etdz.catalogue import load_catalogues
from etdz.checking import Checker
from etdz.ingestion import ingest_year
from etdz.validation import CHECKS, FAMILIES, build_suite, ephemeral_context, gx_module
from tests.fixtures.submissions import TINY_CATALOGUE, csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry

# the tiny catalogue with its zone ≤ city pair as a rule (not `not_above`), and a lower-bound rule jobs ≥ firms
RULES = """\
consistency:
  - {left: output, op: "<=", right: city_output, tolerance: 0.05}
  - {left: jobs, op: ">=", right: firms, tolerance: 0.1}
"""
CATALOGUE = TINY_CATALOGUE.replace(", not_above: city_output}", "}").replace("indicators:\n", RULES + "indicators:\n")


@pytest.fixture(scope="session", autouse=True)
def gx():
    return gx_module()  # imported once (3-4 s)


@pytest.fixture
def env(tmp_path):
    cat = write_tiny_catalogue(tmp_path / "cat", CATALOGUE)
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / "2022"

    def run(files: dict[str, bytes]):
        inbox.mkdir(parents=True, exist_ok=True)
        for p in inbox.iterdir():
            p.unlink()
        for name, data in files.items():
            (inbox / name).write_bytes(data)
        return ingest_year(inbox, 2022, cat, reg, None)

    run.catalogue, run.registry, run.inbox = cat, reg, inbox
    return run


def rule_issues(y, name="f.csv") -> pd.DataFrame:
    iss = y.issues
    return iss.loc[(iss.file_name == name) & (iss.check == "row.inconsistent")]


def status(y, name="f.csv") -> str:
    return y.log.set_index("file_name").at[name, "status"]


def test_the_catalogue_rules_are_in_the_suite(env):
    texts = [r.text for r in env.catalogue.consistency]
    assert texts == ["output <= city_output（容差 5%）", "jobs >= firms（容差 10%）"]
    ctx = ephemeral_context()
    suite = build_suite(env.catalogue, "t")
    mine = [e for e in suite.expectations if e.meta["check"] == "row.inconsistent"]
    # one slot per direction, each an error and a warning expectation of GX's own column-pair kind
    assert [(type(e).__name__, e.meta["severity"], e.column_A, e.column_B) for e in mine] == [
        ("ExpectColumnPairValuesAToBeGreaterThanB", "error", "consistency_0_limit", "value"),
        ("ExpectColumnPairValuesAToBeGreaterThanB", "warning", "consistency_0_right", "value"),
        ("ExpectColumnPairValuesAToBeGreaterThanB", "error", "value", "consistency_1_limit"),
        ("ExpectColumnPairValuesAToBeGreaterThanB", "warning", "value", "consistency_1_right"),
    ]
    assert all(e.or_equal for e in mine)
    del ctx
    assert "row.inconsistent" in CHECKS and "row.inconsistent" in FAMILIES["plausibility"]


@pytest.mark.parametrize("output, severity", [
    ("1000", None),  # equal to the city's: the rule holds
    ("1000.01", "warning"),  # just above the city's: within the tolerance
    ("1050", "warning"),  # exactly at the tolerance (1000 × 1.05): still within it
    ("1050.01", "error"),  # just beyond the tolerance
])
def test_upper_rule_boundary(env, output, severity):
    y = env({"f.csv": csv_bytes(rows_for("Z1", 2022, output=(output, "亿元"), city_output=("1000", "亿元")))})
    got = rule_issues(y)
    assert list(got.severity) == ([severity] if severity else [])
    assert status(y) == ("rejected" if severity == "error" else "accepted")


@pytest.mark.parametrize("jobs, severity", [("1000", None), ("999", "warning"), ("900", "warning"),
                                            ("899", "error")])
def test_lower_rule_boundary(env, jobs, severity):
    y = env({"f.csv": csv_bytes(rows_for("Z1", 2022, jobs=(jobs, "人"), firms=("1000", "家")))})
    assert list(rule_issues(y).severity) == ([severity] if severity else [])


def test_beyond_the_tolerance_is_one_error_naming_both_figures_the_rule_row_and_zone(env):
    # GDP keyed in 万元 but labelled 亿元: 10,000 times the zone's, far above its city's
    rows = rows_for("Z1", 2022, output=("1205000", "亿元"))
    y = env({"f.csv": csv_bytes(rows)})
    got = rule_issues(y)
    assert len(got) == 1  # the error only: not also warned about
    e = got.iloc[0]
    assert (e.severity, e.scope, e.row, e.column, e.value, e.zone_code) == ("error", "row", 2, "value", "1205000", "Z1")
    assert e.message == (
        "文件「f.csv」第 2 行「value」列：指标 output（产值） 的数值 1205000 亿元 大于 city_output（城市产值，第 3 行）"
        "的数值 900 亿元，不符合一致性规则「output <= city_output（容差 5%）」，且超出容差（容差内上限 945 亿元），"
        "文件被拒收；请核对两项的数值和单位（如万元与亿元是否混淆、两项是否填反），更正后重新报送")
    assert e.expected == "≤ 945 亿元（output <= city_output（容差 5%））"
    assert status(y) == "rejected" and y.measures.empty


def test_within_the_tolerance_is_a_warning_and_the_file_is_accepted(env):
    y = env({"f.csv": csv_bytes(rows_for("Z1", 2022, output=("920", "亿元")))})
    w = rule_issues(y).iloc[0]
    assert w.severity == "warning" and status(y) == "accepted"
    assert "数值 920 亿元 大于 city_output（城市产值，第 3 行）的数值 900 亿元" in w.message
    assert "「output <= city_output（容差 5%）」" in w.message and "容差之内（容差内上限 945 亿元）" in w.message
    assert "已接收" in w.message and w.expected == "≤ 900 亿元（city_output）"


def test_values_are_compared_in_canonical_units(env):
    # 9,200,000 万元 = 920 亿元: within the tolerance, and the message shows the conversion
    y = env({"f.csv": csv_bytes(rows_for("Z1", 2022, output=("9200000", "万元")))})
    w = rule_issues(y).iloc[0]
    assert w.severity == "warning" and "9200000 万元（折算为 920 亿元） 大于" in w.message


def test_a_rule_with_either_side_not_reported_is_not_checked(env):
    for override in ({"city_output": ("", "亿元")}, {"city_output": None}, {"output": ("", "亿元")}):
        y = env({"f.csv": csv_bytes(rows_for("Z1", 2022, **override))})
        assert rule_issues(y).empty, override


def test_each_file_is_checked_against_its_own_city_figure(env):
    y = env({"a.csv": csv_bytes(rows_for("Z1", 2022, output=("950", "亿元"))),
             "b.csv": csv_bytes(rows_for("Z2", 2022, output=("950", "亿元"), city_output=("5000", "亿元")))})
    assert list(rule_issues(y, "a.csv").severity) == ["error"] and rule_issues(y, "b.csv").empty


def test_two_rules_on_one_measure_are_both_checked(tmp_path):
    text = CATALOGUE.replace(RULES, RULES + "  - {left: output, op: \"<\", right: jobs, tolerance: 0}\n")
    cat = write_tiny_catalogue(tmp_path / "cat", text)
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / "2022"
    inbox.mkdir(parents=True)
    # output 12000 ≥ jobs 12000 (strict rule, no tolerance: an error) and 12000 > city 900 (an error)
    (inbox / "f.csv").write_bytes(csv_bytes(rows_for("Z1", 2022, output=("12000", "亿元"))))
    y = ingest_year(inbox, 2022, cat, reg, None)
    got = y.issues.loc[y.issues.check == "row.inconsistent"]
    assert sorted(got.expected) == ["< 12000 人（output < jobs（容差 0%））",
                                    "≤ 945 亿元（output <= city_output（容差 5%））"]
    assert "大于或等于 jobs（就业人数，第 5 行）的数值 12000 人" in " ".join(got.message)


def test_the_warm_checker_says_what_the_run_says(env):
    files = {"f.csv": csv_bytes(rows_for("Z1", 2022, output=("1205000", "亿元"))),
             "g.csv": csv_bytes(rows_for("Z2", 2022, output=("930", "亿元")))}
    y = env(files)
    checker = Checker(catalogues=[env.catalogue], registry=env.registry)
    for name in files:
        got = checker.check(env.inbox / name).issues
        want = y.issues.loc[y.issues.file_name == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
        assert "row.inconsistent" in set(got.check)


def test_shipped_catalogues_declare_the_five_city_rules_in_place_of_not_above():
    pairs = {("gdp", "city_gdp"), ("trade_total", "city_trade_total"), ("tax_revenue", "city_tax_revenue"),
             ("fdi_actual", "city_fdi_actual"), ("hitech_mfg_revenue", "city_hitech_mfg_revenue")}
    for c in load_catalogues():
        assert {(r.left, r.right) for r in c.consistency} == pairs
        assert {(r.op, r.tolerance) for r in c.consistency} == {("<=", 0.05)}
        assert {(m.code, m.not_above) for m in c.measures.values() if m.not_above} == {
            ("hitech_trade", "trade_total"), ("solid_waste_utilized", "solid_waste_generated")}
