"""A year folder that is a symbolic link is refused like a linked file (issue 23, item 8).

Before, ``inbox/2021 -> /elsewhere`` was followed: files outside the inbox were read, archived and quoted in the
validation page. Now the run of that year refuses (exit 2) naming the folder, its target and what to do, and
nothing of it is read, archived or written; other years go on.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from etdz.inbox_state import InboxFolderRefused, scan_inbox

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def test_listing_a_linked_year_folder_refuses_naming_it(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text("zone_code\n", encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "2021").symlink_to(outside)
    with pytest.raises(InboxFolderRefused) as err:
        scan_inbox(tmp_path / "inbox" / "2021")
    message = str(err.value)
    assert str(tmp_path / "inbox" / "2021") in message and str(outside) in message and "symbolic link" in message
    assert err.value.exit_code == 2
    assert scan_inbox(outside)  # a real folder is listed as before


@pytest.mark.slow
def test_a_run_of_a_linked_year_refuses_and_reads_nothing_while_other_years_run(tmp_path, monkeypatch, capsys):
    from pipelines.cli import main

    inbox, outside = tmp_path / "inbox", tmp_path / "outside" / "2021"
    shutil.copytree(GOLDEN / "inbox" / "2020", inbox / "2020")
    shutil.copytree(GOLDEN / "inbox" / "2021", outside)
    (outside / "secret.csv").write_text("zone_code,data_year,measure_code,value,unit\nE1,2021,x,机密,亿元\n",
                                        encoding="utf-8")
    os.symlink(outside, inbox / "2021")
    values = {"ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
              "ETDZ_INBOX": str(inbox), "ETDZ_WAREHOUSE": str(tmp_path / "warehouse"),
              "ETDZ_REPORTS": str(tmp_path / "reports"), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
              "ETDZ_HOME": str(tmp_path)}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    assert main(["run", "--data-year", "2021"]) == 2
    err = capsys.readouterr().err
    assert f"the inbox folder {inbox / '2021'} is a symbolic link" in err and "Traceback" not in err
    archive = tmp_path / "warehouse" / "_archive"
    assert not archive.exists() or not [p for p in archive.rglob("*") if p.is_file()]  # nothing archived
    assert not (tmp_path / "reports" / "2021").exists()
    assert main(["run", "--data-year", "2020"]) == 0  # the other year goes on
    assert "机密" not in (tmp_path / "reports" / "2020" / "validation.html").read_text("utf-8")
