"""A missing ``ETDZ_CONFIG`` file is an error, not the defaults (issue 23, item 3).

Before, a typo in ``ETDZ_CONFIG`` ran the year with the shipped registry (exit 0, the year rewritten) and named
``$ETDZ_HOME/etdz.toml`` instead of the file given. Now every command stops with exit 2 naming the file given, and
nothing is read or written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from etdz.settings import ConfigError, Settings, write_config

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_file_named_by_etdz_config_is_refused_naming_it(tmp_path):
    missing = tmp_path / "conf" / "etdz-prod.toml"
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"ETDZ_HOME": str(tmp_path), "ETDZ_CONFIG": str(missing)})
    assert str(missing) in str(err.value) and "does not exist" in str(err.value)
    assert err.value.exit_code == 2


def test_a_folder_named_by_etdz_config_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        Settings.from_env({"ETDZ_HOME": str(tmp_path), "ETDZ_CONFIG": str(tmp_path)})


def test_an_existing_file_and_no_variable_still_work(tmp_path):
    conf = tmp_path / "other.toml"
    conf.write_text('inbox = "/srv/inbox"\n', encoding="utf-8")
    assert Settings.from_env({"ETDZ_HOME": str(tmp_path), "ETDZ_CONFIG": str(conf)}).inbox == "/srv/inbox"
    assert Settings.from_env({"ETDZ_HOME": str(tmp_path)}).config_file == ""  # no file in ETDZ_HOME: the defaults
    assert write_config(Settings.from_env({"ETDZ_HOME": str(tmp_path)})) == tmp_path / "etdz.toml"


@pytest.mark.parametrize("command", [["run", "--data-year", "2021"], ["validate", "x.csv"], ["reopen", "--data-year",
                                     "2021", "--reason", "r"], ["publish", "--data-year", "2021"]])
@pytest.mark.slow
def test_every_command_exits_2_naming_the_file_and_writes_nothing(tmp_path, command):
    missing = tmp_path / "etdz-prod.toml"
    env = {**os.environ, "ETDZ_HOME": str(tmp_path / "home"), "ETDZ_CONFIG": str(missing)}
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *command], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(missing) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "home").exists()  # nothing written anywhere
