"""Headless Chromium renders the national report and a card offline: exit 0, a real PNG, no console
message, no network request from the page (every request is routed to a local trap; see reports_synth)."""

from __future__ import annotations

import pytest
from reports_synth import CHROMIUM, chromium_screenshot, require_chromium

pytestmark = pytest.mark.server

require_chromium()


def _check(result):
    assert result["returncode"] == 0, result["stderr"][-2000:]
    assert result["png_bytes"] > 20_000
    assert result["requests"] == [], result["requests"]
    assert result["console"] == [], result["console"]


def test_detector_catches_a_request_and_a_console_error(tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><p>control</p><img src="http://example.com/a.png">'
                    '<script>console.error("boom")</script>', encoding="utf-8")
    r = chromium_screenshot(page, tmp_path / "control.png", 300, 200)
    assert any("example.com" in q for q in r["requests"])
    assert any("boom" in c for c in r["console"])


def test_national_report_renders_offline(written_year, tmp_path):
    data, out = written_year
    _check(chromium_screenshot(out.national_report, tmp_path / "national_report.png", 1200, 2400))


def test_zone_card_renders_offline(written_year, tmp_path):
    data, out = written_year
    code = data.frames["rankings"].sort_values("national_rank").zone_code.iloc[len(data.frames["rankings"]) // 2]
    _check(chromium_screenshot(out.cards_dir / f"{code}.html", tmp_path / "zone_card.png", 940, 2400))


def test_card_prints_to_a4_pdf(written_year, tmp_path):
    import subprocess
    import tempfile

    data, out = written_year
    code = data.frames["rankings"].zone_code.iloc[0]
    pdf = tmp_path / "card.pdf"
    profile = tempfile.mkdtemp()
    p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
                        "--proxy-server=http://127.0.0.1:9", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                        (out.cards_dir / f"{code}.html").resolve().as_uri()],
                       capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr[-2000:]
    head = pdf.read_bytes()
    assert head.startswith(b"%PDF")
    import re

    boxes = re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", head)
    assert boxes and all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in boxes)  # A4 portrait
