"""Server tests skip only on a developer machine; with ETDZ_REQUIRE_SERVERS set (CI) they fail instead."""

from __future__ import annotations

import pytest

from tests.ops.conftest import require


def test_missing_binary_skips_with_the_reason(monkeypatch):
    monkeypatch.delenv("ETDZ_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not installed"):
        require(False, "PostgreSQL is not installed")


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_missing_binary_fails_when_servers_are_required(monkeypatch, value):
    monkeypatch.setenv("ETDZ_REQUIRE_SERVERS", value)
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed.*ETDZ_REQUIRE_SERVERS"):
        require(False, "Chromium is not installed")


def test_present_binary_neither_skips_nor_fails(monkeypatch):
    monkeypatch.setenv("ETDZ_REQUIRE_SERVERS", "1")
    require(True, "unused")


def test_runuser_is_found_without_sbin_on_path(monkeypatch):
    """A user's PATH (e.g. /usr/local/bin:/usr/bin:/bin) has no /usr/sbin, where Debian keeps runuser: the
    PostgreSQL tests must still find it rather than skip."""
    import os

    from tests.ops.conftest import system_tool

    if not os.path.exists("/usr/sbin/runuser"):
        pytest.skip("no /usr/sbin/runuser on this machine")
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    assert system_tool("runuser") in ("/usr/sbin/runuser", "/usr/bin/runuser", "/bin/runuser", "/sbin/runuser")
    assert system_tool("no-such-tool-etdz") is None
