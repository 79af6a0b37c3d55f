"""rankings.xlsx: national sheet, one per region, upgrade candidates; frozen header, numbers as numbers."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def book(written_year):
    data, out = written_year
    return data, openpyxl.load_workbook(out.workbook)


def _rows(ws):
    head = [c.value for c in ws[1]]
    return head, [dict(zip(head, [c.value for c in row])) for row in ws.iter_rows(min_row=2)]


def test_sheets(book):
    data, wb = book
    assert wb.sheetnames[:5] == ["全国 National", "东部 East", "中部 Central", "西部 West", "晋升候选 Upgrade"]


def test_national_sheet_equals_rankings(book):
    data, wb = book
    ws = wb["全国 National"]
    assert ws.freeze_panes == "C2"
    assert ws.auto_filter.ref
    head, rows = _rows(ws)
    rk = data.frames["rankings"].sort_values(["national_rank", "zone_code"])
    assert [r["代码 Code"] for r in rows] == list(rk.zone_code)
    cs = data.frames["category_scores"].pivot(index="zone_code", columns="category_code", values="score")
    for r, (_, z) in zip(rows, rk.iterrows()):
        assert isinstance(r["全国名次 National rank"], int) and r["全国名次 National rank"] == z.national_rank
        assert isinstance(r["总分 Total"], (int, float)) and r["总分 Total"] == pytest.approx(z.total_score, abs=1e-12)
        assert r["区域名次 Regional rank"] == z.regional_rank
        for k in data.catalogue.categories:
            assert r[f"{k.name_zh} {k.name_en}"] == pytest.approx(cs.at[z.zone_code, k.code], abs=1e-12)
        for m in data.catalogue.top_lists:
            key = f"{data.catalogue.measures[m].name_zh} 名次"
            assert r[key] == (None if pd.isna(z[f"rank_{m}"]) else int(z[f"rank_{m}"]))
        assert r["降级预警 Watch-list"] == ("是" if z.downgrade_candidate else "否")
    total_col = head.index("总分 Total") + 1
    assert ws.cell(row=2, column=total_col).number_format == "0.00"
    for i in range(1, len(head) + 1):
        w = ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width
        assert 8 <= w <= 44


def test_region_sheets_and_upgrades(book):
    data, wb = book
    rk = data.frames["rankings"]
    for region, title in (("east", "东部 East"), ("central", "中部 Central"), ("west", "西部 West")):
        head, rows = _rows(wb[title])
        exp = rk[rk.region == region].sort_values(["regional_rank", "zone_code"])
        assert [r["代码 Code"] for r in rows] == list(exp.zone_code)
        assert [r["区域名次 Regional rank"] for r in rows] == list(exp.regional_rank)
        assert head[0] == "区域名次 Regional rank"
        assert wb[title].freeze_panes == "C2"
    head, rows = _rows(wb["晋升候选 Upgrade"])
    up = data.frames["upgrade_candidates"].sort_values("candidate_rank")
    assert [r["代码 Code"] for r in rows] == list(up.zone_code)
    assert [r["相当于全国名次 Equivalent national rank"] for r in rows] == list(up.equivalent_national_rank)
    assert all(isinstance(r["总分 Total"], (int, float)) for r in rows)


def _widths(ws) -> dict[int, float]:
    """Column index -> width, with the ranges a writer may group into one ``<col>`` expanded."""
    out = {}
    for dim in ws.column_dimensions.values():
        if dim.min is not None:
            out.update(dict.fromkeys(range(dim.min, dim.max + 1), dim.width))
    return out


def test_widths_fit_the_content(year_builder, catalogue_2021, tmp_path):
    from etdz.reports import write_year_reports

    wide = "名" * 15  # 15 wide characters: 30 columns + 2 of margin
    data = year_builder(catalogue_2021, 2022, names={"E001": wide, "E002": "x" * 80})
    wb = openpyxl.load_workbook(write_year_reports(data.inputs(), tmp_path).workbook)
    ws = wb["全国 National"]
    head = [c.value for c in ws[1]]
    widths = _widths(ws)
    assert widths[head.index("经开区 Zone") + 1] == 44  # the 80-character name: capped
    assert widths[head.index("全国名次 National rank") + 1] == len("全国名次 National rank") + 4 + 2  # 4 wide chars
    assert widths[head.index("代码 Code") + 1] == 9 + 2  # the header is the widest
    assert set(widths) == set(range(1, len(head) + 1)) and all(8 <= w <= 44 for w in widths.values())
    assert _widths(wb["说明 About"]) == {1: 26, 2: 90}


def test_text_like_rich_string_xml_stays_text(year_builder, catalogue_2021, tmp_path):
    """XlsxWriter in constant_memory mode copies a string ``<r>…</r>`` into the sheet as raw XML (it takes it
    for a rich string it built): a zone name could forge cells or a formula. It must stay the same text."""
    import zipfile

    from etdz.reports import write_year_reports

    forged = '<r><t>x</t></r></is></c><c r="Z1"><f>HYPERLINK("http://evil.example")</f><is><r></r>'
    data = year_builder(catalogue_2021, 2022, names={"E001": forged, "E002": "<r><t>粗体</t></r>"})
    path = write_year_reports(data.inputs(), tmp_path).workbook
    wb = openpyxl.load_workbook(path)  # well-formed XML, or this raises
    texts = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert forged in texts and "<r><t>粗体</t></r>" in texts
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    with zipfile.ZipFile(path) as z:
        assert not any("<f>" in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


# --------------------------------------------------------------------------- readers' details (issue 19)


def test_a_demo_workbook_marks_every_sheet_and_a_real_one_none(small_year, tmp_path):
    from etdz.reports import fictitious, write_year_reports

    inp = small_year.inputs()
    inp.demo = True
    wb = openpyxl.load_workbook(write_year_reports(inp, tmp_path / "demo").workbook)
    for ws in wb.worksheets:
        assert ws["A1"].value == fictitious.BANNER, ws.title  # the first row of every sheet, the About sheet too
    ws = wb["全国 National"]
    assert ws["A2"].value == "全国名次 National rank" and ws.freeze_panes == "C3"
    assert ws.auto_filter.ref.startswith("A2")  # the filter on the header, below the banner
    real = openpyxl.load_workbook(write_year_reports(small_year.inputs(), tmp_path / "real").workbook)
    assert all(fictitious.BANNER_ZH not in str(c.value) for ws in real.worksheets for row in ws.iter_rows()
               for c in row if c.value is not None)


def test_fdi_is_in_yiyi_dollars_beside_its_rank_and_the_top100_has_its_sheet(book):
    data, wb = book
    head, rows = _rows(wb["全国 National"])
    meas = data.frames["measures"]
    values = {m: meas[meas.measure_code == m].set_index("zone_code").value for m in data.catalogue.top_lists}
    fdi_col, trade_col = "实际使用外资金额 (亿美元)", "进出口总额 (亿元)"
    assert head.index(fdi_col) == head.index("实际使用外资金额 名次") + 1
    for r in rows:
        code = r["代码 Code"]
        fdi, trade = values["fdi_actual"].get(code), values["trade_total"].get(code)
        assert r[fdi_col] == (None if fdi is None else pytest.approx(fdi / 1e4, rel=1e-12))  # data in 万美元
        assert r[trade_col] == (None if trade is None else pytest.approx(trade, rel=1e-12))
    head, rows = _rows(wb["前100 Top 100"])
    rk = data.frames["rankings"].sort_values(["national_rank", "zone_code"])
    assert [r["代码 Code"] for r in rows] == list(rk[rk.top100].zone_code)
