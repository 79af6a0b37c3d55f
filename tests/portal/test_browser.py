"""The portal's pages in a real browser (Debian's chromium driven by its chromedriver through Selenium), served by the
real server (`etdz portal`, waitress) on a free loopback port.

The flow people follow (docs/contract/06-portal.md §6.2, §6.5), with ``approval_required = true``: the zone signs in,
uploads a faulty file and sees every problem in place, submits the corrected file (explaining its warnings, if any),
the province approves it (only then does it reach the inbox), the reviewer sees the zone as approved. The data are
the demo's (the real registry and the shipped catalogue; the zone's own demo file for the open year, its previous
year in the inbox for the year-on-year checks).

The driver's path is given (``Service('/usr/bin/chromedriver')``) and the browser's binary too, so Selenium Manager
never runs (it would try to download a driver): the test makes it fail loudly if it were called.

Set ETDZ_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/portal_zone_home_problems.png, portal_province_list.png
and portal_reviewer_view.png.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import pytest

from tests.ops.conftest import REPO, require
from tests.portal.servers import PASSWORD, add_account, clean_env, open_year, portal_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = ("portal_zone_home_problems.png", "portal_province_list.png", "portal_reviewer_view.png")


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise AssertionError("a demo file in neither UTF-8 nor GB18030")


class Site:
    """The portal under test: its URL, environment, inbox, the zone and province it was set up with."""

    def __init__(self, base: str, env: dict, root: Path, year: int, zone: dict, good: Path, faulty: Path):
        self.base, self.env, self.root, self.year = base, env, root, year
        self.zone, self.good, self.faulty = zone, good, faulty

    @property
    def inbox_year(self) -> Path:
        return Path(self.env["ETDZ_INBOX"]) / str(self.year)


def _pick_zone(demo_home: Path, year: int):
    """A due zone whose demo file for ``year`` is a plain CSV the demo did not make faulty, late or superseded."""
    import json

    import pandas as pd

    from etdz.registry import due_zones, load_registry

    special = {s["zone_code"] for s in json.loads((demo_home / "demo_manifest.json").read_text(encoding="utf-8"))
               .get("scenarios", [])} if (demo_home / "demo_manifest.json").exists() else set()
    due = due_zones(load_registry(str(demo_home / "registry.csv")), year)
    by_code = {}
    for path in sorted((demo_home / "inbox" / str(year)).glob("*.csv")):
        rows = list(csv.reader(io.StringIO(_decode(path.read_bytes()))))
        if len(rows) > 5 and len(rows[0]) == 5 and rows[1][0]:
            by_code.setdefault(rows[1][0], []).append((path, rows))
    for z in due.sort_values("zone_code").to_dict("records"):
        files = by_code.get(z["zone_code"], [])
        if len(files) == 1 and z["zone_code"] not in special and isinstance(z.get("province"), str) \
                and not pd.isna(z["province"]):
            return z, files[0]
    raise AssertionError(f"no plain demo CSV for a due zone of {year}")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require(Path(CHROMIUM).exists(), "Chromium is not installed (Debian package `chromium`)")
    require(Path(CHROMEDRIVER).exists(), "chromedriver is not installed (Debian package `chromium-driver`)")
    from demo import write_demo

    root = tmp_path_factory.mktemp("portal_browser")
    year = open_year()
    write_demo(root / "demo", years=range(year - 1, year + 1))
    zone, (good_src, rows) = _pick_zone(root / "demo", year)
    good = root / "upload" / f"{zone['zone_code']}_{year}.csv"
    good.parent.mkdir()
    shutil.copy(good_src, good)
    # the faulty version: a value written as text and a unit the catalogue does not know, in two rows
    bad = [list(r) for r in rows]
    bad[2][3] = "约300"
    bad[4][4] = "千万元"
    faulty = root / "upload" / f"{zone['zone_code']}_{year}_draft.csv"
    with open(faulty, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(bad)
    inbox = root / "inbox"
    shutil.copytree(root / "demo" / "inbox" / str(year - 1), inbox / str(year - 1))  # Y−1 for the checks

    env = clean_env(ETDZ_HOME=str(root / "home"), ETDZ_REGISTRY=str(root / "demo" / "registry.csv"),
                    ETDZ_INBOX=str(inbox), ETDZ_WAREHOUSE=str(root / "warehouse"), ETDZ_REPORTS=str(root / "reports"),
                    DAGSTER_HOME=str(root / "dagster_home"), ETDZ_APPROVAL_REQUIRED="true")
    add_account(env, root, "zone-user", "zone", zone=zone["zone_code"])
    add_account(env, root, "province-user", "province", province=zone["province"])
    add_account(env, root, "reviewer-user", "reviewer")
    with portal_server(env, root) as base:
        yield Site(base, env, root, year, zone, good, faulty)


@pytest.fixture(scope="module")
def browser(tmp_path_factory, site):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    def no_download(*_a, **_k):
        raise AssertionError("Selenium Manager was called: it would download a driver")

    saved = selenium_manager.SeleniumManager.binary_paths
    selenium_manager.SeleniumManager.binary_paths = no_download
    opts = Options()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium_profile")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1000", "--lang=zh-CN"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        selenium_manager.SeleniumManager.binary_paths = saved


def sign_in(driver, site: Site, username: str) -> None:
    from selenium.webdriver.common.by import By

    sign_out = driver.find_elements(By.CSS_SELECTOR, 'form[action="/logout"] button')
    if sign_out:  # the page's own form (a POST with its CSRF token); a GET of /logout signs nobody out
        _click_and_wait_for_the_next_page(driver, sign_out[0], "the sign-out button led nowhere")
        assert "/login" in driver.current_url, f"the sign-out button did not sign out: {driver.current_url}"
    driver.get(f"{site.base}/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    sign_in_button = driver.find_element(By.ID, "sign-in")
    _click_and_wait_for_the_next_page(driver, sign_in_button, f"{username}: no page after signing in")
    assert "/login" not in driver.current_url, f"{username} was not signed in: {driver.page_source[:800]}"


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    """The whole page as a PNG (the window made as tall as the page); copied to docs/screenshots/ on request."""
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 700)")
    driver.set_window_size(1400, min(int(height) + 40, 4000))
    png = tmp_path / name
    driver.save_screenshot(str(png))
    driver.set_window_size(1400, 1000)
    from tests.ops.test_webserver import png_facts

    width, h, distinct = png_facts(png)
    assert width >= 1000 and h >= 600 and distinct > 50, f"{name}: a blank page"
    if os.environ.get("ETDZ_UPDATE_SCREENSHOTS"):
        shutil.copy(png, REPO / "docs" / "screenshots" / name)
    return png


def _upload(driver, path: Path, button: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "file").send_keys(str(path))
    submit = driver.find_element(By.ID, button)
    _click_and_wait_for_the_next_page(driver, submit, "the page did not reload after the upload")


_MARK = "__etdz_page_before_click"


def _click_and_wait_for_the_next_page(driver, element, message: str) -> None:
    """Click ``element`` and wait until the browser shows a new, fully loaded document.

    The old page is marked with a window property that only it carries: the next page is there when
    the property is gone and the document has loaded. Asking an element of the old page whether it is
    stale races with the navigation — mid-swap Chromium answers "Node with given id does not belong to
    the document", a generic WebDriverException rather than StaleElementReferenceException.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script(f"window.{_MARK} = true")
    element.click()

    def loaded(d) -> bool:
        return bool(d.execute_script(f"return !window.{_MARK} && document.readyState === 'complete'"))

    # While the navigation is in flight a script can find no document to run in: poll again.
    WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(loaded, message)


def test_zone_province_and_reviewer_in_a_real_browser(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    code, province = site.zone["zone_code"], site.zone["province"]
    # -- the zone: sign in, its home shows the open year
    sign_in(browser, site, "zone-user")
    assert browser.current_url.endswith("/zone"), browser.current_url
    assert f"{site.year} 年度数据报送" in browser.find_element(By.ID, "year").text
    browser.get(f"{site.base}/logout")  # a GET (a link, an image) signs nobody out
    browser.get(f"{site.base}/zone")
    assert browser.current_url.endswith("/zone"), "a GET of /logout signed the zone out"

    # -- a faulty file: every problem in place (row, column, what was found), nothing stored
    _upload(browser, site.faulty, "check")
    summary = browser.find_element(By.ID, "check-summary").text
    assert "错误" in summary and "未报送" in summary, summary
    errors = browser.find_elements(By.CSS_SELECTOR, "#issues tr.issue.error")
    assert len(errors) >= 2, browser.find_element(By.ID, "issues").text
    rows = {e.get_attribute("data-row") for e in errors}
    assert {"3", "5"} <= rows, rows  # the two rows made faulty (row 1 is the header)
    found = " ".join(e.text for e in errors)
    assert "约300" in found and "千万元" in found
    screenshot(browser, tmp_path, SHOTS[0])
    assert not site.inbox_year.exists() or not any(site.inbox_year.iterdir())

    # -- the corrected file: submitted, with an explanation for each warning the portal asks about
    _upload(browser, site.good, "submit")
    if browser.find_elements(By.CSS_SELECTOR, "#explanations textarea"):
        for box in browser.find_elements(By.CSS_SELECTOR, "#explanations textarea"):
            box.clear()
            box.send_keys("已与统计部门核实，数据无误 / checked with the statistics bureau")
        _upload(browser, site.good, "submit")
    outcome = browser.find_element(By.ID, "outcome")
    assert "bad" not in (outcome.get_attribute("class") or ""), outcome.text
    assert "已报送" in outcome.text, outcome.text
    history = browser.find_element(By.CSS_SELECTOR, "#history tr.submission")
    sha = history.get_attribute("data-sha256")
    assert len(sha) == 64
    assert not site.inbox_year.exists() or not any(site.inbox_year.iterdir()), "reached the inbox before approval"

    # -- the province: its review list shows the submission; it approves, and only now the file reaches the inbox
    sign_in(browser, site, "province-user")
    assert browser.current_url.endswith("/province"), browser.current_url
    row = browser.find_element(By.CSS_SELECTOR, f'#submissions tr.submission[data-sha256="{sha}"]')
    assert row.get_attribute("data-zone") == code
    approve = row.find_element(By.CSS_SELECTOR, "button.approve")
    _click_and_wait_for_the_next_page(browser, approve, "the review list did not reload after approving")
    row = browser.find_element(By.CSS_SELECTOR, f'#submissions tr.submission[data-sha256="{sha}"]')
    assert "已审核通过" in row.find_element(By.CSS_SELECTOR, "td.status").text, row.text
    assert not row.find_elements(By.CSS_SELECTOR, "button.approve")
    [stored] = list(site.inbox_year.iterdir())
    assert stored.name == f"{code}_{sha[:12]}.csv"  # the portal's own name, never the uploaded one
    assert stored.read_bytes() == site.good.read_bytes()
    screenshot(browser, tmp_path, SHOTS[1])

    # -- the reviewer: completeness and timeliness — the zone's province has one submitted, approved file
    sign_in(browser, site, "reviewer-user")
    browser.get(f"{site.base}/review?data_year={site.year}")
    prow = browser.find_element(By.CSS_SELECTOR, f'#by-province tr[data-province="{province}"]')
    assert prow.find_element(By.CSS_SELECTOR, "td.submitted").text == "1", prow.text
    assert prow.find_element(By.CSS_SELECTOR, "td.approved").text == "1", prow.text
    # the year has not run: no results to call final yet, and no query open (portal/results.py)
    results = browser.find_element(By.ID, "results-status")
    assert results.get_attribute("data-label") == "" and "尚未计算" in results.text, results.text
    assert browser.find_element(By.ID, "results-open").text == "0"
    total = browser.find_element(By.ID, "total").text
    assert "已报送 1" in total and "已审核 1" in total, total
    screenshot(browser, tmp_path, SHOTS[2])

    # the zone sees the same: its submission approved by the province
    sign_in(browser, site, "zone-user")
    status = browser.find_element(By.CSS_SELECTOR, f'#history tr.submission[data-sha256="{sha}"] td.status').text
    assert "approved" in status, status
