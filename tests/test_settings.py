"""One configuration: defaults, then $ETDZ_HOME/etdz.toml, then the environment; `etdz init` writes it once."""

from __future__ import annotations

from pathlib import Path

import pytest

from etdz.cli import main
from etdz.registry import SHIPPED_REGISTRY
from etdz.settings import CONFIG_NAME, ConfigError, Settings, write_config


def test_tests_never_see_the_real_home(private_etdz_home):
    assert Settings.from_env().home == str(private_etdz_home)
    assert Settings.from_env({}).home == str(private_etdz_home)  # an explicit mapping without ETDZ_HOME too
    assert str(Path.home() / "etdz") not in Settings.from_env().inbox


def test_defaults_then_file_then_environment(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / CONFIG_NAME).write_text('inbox = "submissions"\nwarehouse = "/data/wh"\nui_port = 4000\n'
                                    'max_file_mb = 5\n', encoding="utf-8")
    s = Settings.from_env({"ETDZ_HOME": str(home)})
    assert s.inbox == str(home / "submissions")  # relative to the file's folder
    assert s.warehouse == "/data/wh" and s.archive == "/data/wh/_archive"
    assert s.reports == str(home / "reports") and s.registry == str(Path(SHIPPED_REGISTRY).resolve())
    assert s.max_file_bytes == 5 * 1024 * 1024
    assert s.report_links_url == "http://127.0.0.1:4001"  # follows the UI's port
    assert s.describe() == f"configuration {home / CONFIG_NAME}"

    s = Settings.from_env({"ETDZ_HOME": str(home), "ETDZ_WAREHOUSE": "s3://bucket/wh", "ETDZ_UI_PORT": "5000"})
    assert s.warehouse == "s3://bucket/wh" and s.ui_port == 5000 and s.inbox == str(home / "submissions")
    assert s.describe().endswith("from the environment: ETDZ_WAREHOUSE, ETDZ_UI_PORT")


def test_no_file_says_so(tmp_path):
    s = Settings.from_env({"ETDZ_HOME": str(tmp_path)})
    assert s.config_file == "" and "no configuration file" in s.describe() and "etdz init" in s.describe()


@pytest.mark.parametrize("text, message", [
    ('inbx = "x"\n', "unknown setting(s) inbx"),
    ("inbox = \n", "not valid TOML"),
    ("max_file_mb = -1\n", "max_file_mb in"),
    ("ui_port = 'http'\n", "a port must be a whole number"),
])
def test_a_broken_file_is_named_with_what_to_do(tmp_path, text, message):
    (tmp_path / CONFIG_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="etdz.toml") as err:
        Settings.from_env({"ETDZ_HOME": str(tmp_path)})
    assert message in str(err.value)


def test_written_file_reads_back_as_the_same_settings_and_is_never_overwritten(tmp_path):
    env = {"ETDZ_HOME": str(tmp_path), "ETDZ_REGISTRY": str(tmp_path / "zones.csv"), "ETDZ_MAX_FILE_MB": "7.5"}
    written = Settings.from_env(env)
    assert write_config(written) == tmp_path / CONFIG_NAME
    text = (tmp_path / CONFIG_NAME).read_text(encoding="utf-8")
    assert f'registry = "{tmp_path / "zones.csv"}"' in text.splitlines()
    assert '# inbox = "' in text  # a default: shown, commented, so it keeps following ETDZ_HOME
    assert Settings.from_env({"ETDZ_HOME": str(tmp_path)}) == written
    assert write_config(Settings.from_env({"ETDZ_HOME": str(tmp_path)})) is None
    assert (tmp_path / CONFIG_NAME).read_text(encoding="utf-8") == text


def test_etdz_init_writes_once_and_every_command_says_what_it_read(private_etdz_home, monkeypatch, capsys):
    monkeypatch.setenv("ETDZ_INBOX", str(private_etdz_home / "post"))
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {private_etdz_home / CONFIG_NAME}" in out
    monkeypatch.delenv("ETDZ_INBOX")
    assert Settings.from_env().inbox == str(private_etdz_home / "post")  # the environment of `init`, kept
    assert main(["init"]) == 0
    assert "kept as it is" in capsys.readouterr().out
    assert main(["template", "--data-year", "2023", "--out", str(private_etdz_home / "t")]) == 0
    assert f"etdz template: configuration {private_etdz_home / CONFIG_NAME}" in capsys.readouterr().err


def test_a_broken_configuration_exits_2_with_the_file_named(private_etdz_home, capsys):
    (private_etdz_home / CONFIG_NAME).write_text("inbox = [\n", encoding="utf-8")
    assert main(["validate", "x.csv"]) == 2
    assert str(private_etdz_home / CONFIG_NAME) in capsys.readouterr().err


def test_the_demo_setting_is_its_configurations_and_a_real_one_has_none(tmp_path):
    """``demo = true`` (written by `etdz demo`) marks a demo deployment for every later command; `etdz init` writes a
    real one, whose file keeps the default (false) as a comment."""
    real = tmp_path / "real"
    write_config(Settings.from_env({"ETDZ_HOME": str(real)}))
    assert "# demo = false" in (real / CONFIG_NAME).read_text(encoding="utf-8")
    assert Settings.from_env({"ETDZ_HOME": str(real)}).demo is False
    demo = tmp_path / "demo"
    write_config(Settings.from_env({"ETDZ_HOME": str(demo), "ETDZ_DEMO": "true"}))
    assert "\ndemo = true\n" in (demo / CONFIG_NAME).read_text(encoding="utf-8")
    assert Settings.from_env({"ETDZ_HOME": str(demo)}).demo is True  # read back from the file alone
    assert Settings.from_env({"ETDZ_HOME": str(demo), "ETDZ_DEMO": "0"}).demo is False  # the environment wins
    (real / CONFIG_NAME).write_text('demo = "perhaps"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"demo in .*etdz.toml: 'perhaps' is not true or false"):
        Settings.from_env({"ETDZ_HOME": str(real)})
