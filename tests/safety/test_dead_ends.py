"""Dead ends and raw errors (issue 23, item 10): every one answered by a message and the right exit status.

The rebuild command a damaged Parquet file's message names works; a year that is not one, ``--to`` before
``--from`` and a busy port are exit 2 with a message (no traceback); a disk out of inodes is said as such; a
password-protected XLSX is told it is encrypted; a reopen reason's control characters are inert when printed.
"""

from __future__ import annotations

import errno
import json
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from etdz.commit import replace_file
from etdz.errors import StorageError, out_of_inodes, storage_error
from etdz.reading import read_submission
from etdz.settings import Settings

# --------------------------------------------------------------------------- a damaged Parquet file


@pytest.mark.slow
def test_the_rebuild_command_a_damaged_parquet_file_names_rebuilds_it(golden_env, capsys):
    from etdz.storage import Warehouse
    from pipelines.cli import main

    assert main(["run", "--data-year", "2021"]) == 0
    store = Warehouse(str(golden_env / "warehouse"))
    names = ("rankings", "submission_log", "ranking_changes", "measures")
    good = {name: store.read(name, 2021) for name in names}
    for name in names:
        Path(store.path(name, 2021)).write_bytes(b"PAR1 torn by a disk")
    capsys.readouterr()
    assert main(["run", "--data-year", "2021"]) == 0, capsys.readouterr().err  # the command the message names
    for name in names:  # rebuilt: readable, the same rows as before the damage
        assert store.read(name, 2021).num_rows == good[name].num_rows


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("year", ["20233", "23", "２０２３", "abc"])
def test_a_data_year_that_is_not_four_digits_exits_2_with_a_message(year, capsys):
    from pipelines.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", "--data-year", year])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "is not a data year" in err and "Traceback" not in err


def test_a_year_beyond_the_deployments_years_exits_2_before_dagster_is_asked(golden_env, capsys):
    from pipelines.cli import main

    assert main(["run", "--data-year", "2032"]) == 2
    err = capsys.readouterr().err
    assert "data year 2032 is not a year this deployment can run" in err and "–" in err
    assert "Traceback" not in err and "DagsterUnknownPartitionError" not in err
    assert not (golden_env / "warehouse" / "submission_log").exists()


def test_to_before_from_exits_2(golden_env, capsys):
    from pipelines.cli import main

    assert main(["run", "--from", "2021", "--to", "2020"]) == 2
    assert "--to 2020 is before --from 2021" in capsys.readouterr().err


def test_a_busy_port_is_a_message_not_a_traceback(golden_env, capsys):
    from pipelines.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
        assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
        assert main(["ui", "--port", str(port - 1)]) == 2  # the reports' port (the UI's + 1) is taken
        assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err


# --------------------------------------------------------------------------- out of inodes


def test_a_disk_out_of_inodes_is_said_as_such(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,nr_inodes=40", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        n = 0
        with pytest.raises(OSError) as full:
            while True:  # files until no inode is left (the space is far from full)
                (mnt / f"f{n}").write_bytes(b"x")
                n += 1
        assert full.value.errno == errno.ENOSPC and shutil.disk_usage(mnt).free > 8 * 2**20
        assert out_of_inodes(mnt / "warehouse" / "x.parquet")
        with pytest.raises(StorageError) as err:
            replace_file(mnt / "report.html", b"<html>")
        message = str(err.value)
        assert "no free inodes" in message and "df -i" in message and "disk is full" not in message
        (mnt / "f0").unlink()
        assert not out_of_inodes(mnt)
        # a full disk (space) stays "the disk is full"
        assert "the disk is full" in str(storage_error(OSError(errno.ENOSPC, "No space"), tmp_path / "x"))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# --------------------------------------------------------------------------- a password-protected XLSX


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A minimal valid OLE compound file (CFB v3, 512-byte sectors) holding ``streams`` (≥ 4096 bytes each, so no
    mini stream) — what Excel makes of an .xlsx protected by a password (MS-OFFCRYPTO: EncryptionInfo,
    EncryptedPackage) or, with other streams, an old .xls."""
    end, free, fat_sect, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    names = list(streams)
    sectors = {n: -(-len(streams[n]) // 512) for n in names}
    fat = [fat_sect, end]  # sector 0: the FAT, sector 1: the directory
    starts = {}
    for n in names:
        starts[n] = len(fat)
        fat += [len(fat) + i + 1 for i in range(sectors[n] - 1)] + [end]
    assert len(fat) <= 128 and len(names) <= 3
    fat_bytes = struct.pack("<128I", *(fat + [free] * (128 - len(fat))))

    def entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBBIII", len(raw), kind, 1, left, right, child) + b"\0" * 36
                + struct.pack("<IQ", start, size))

    ordered = sorted(names, key=lambda n: (len(n), n.upper()))  # the red-black tree's order: a chain to the right
    ids = {n: i + 1 for i, n in enumerate(ordered)}
    directory = entry("Root Entry", 5, nostream, nostream, 1, end, 0)
    for i, n in enumerate(ordered):
        right = ids[ordered[i + 1]] if i + 1 < len(ordered) else nostream
        directory += entry(n, 2, nostream, right, nostream, starts[n], len(streams[n]))
    directory = directory.ljust(512, b"\0")
    for i in range(len(ordered) + 1, 4):  # unused entries
        directory = directory[:128 * i + 68] + struct.pack("<III", nostream, nostream, nostream) + \
            directory[128 * i + 80:]
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
              + struct.pack("<109I", 0, *([free] * 108)))
    assert len(header) == 512
    body = b"".join(streams[n].ljust(sectors[n] * 512, b"\0") for n in names)
    return header + fat_bytes + directory + body


def test_a_password_protected_xlsx_is_told_it_is_encrypted():
    encrypted = compound_file({"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + b"\0" * 4088,
                               "EncryptedPackage": struct.pack("<Q", 5000) + b"\x8f" * 5000})
    result = read_submission("苏州工业园区_2023.xlsx", encrypted, len(encrypted))
    message = result.problems[0].message
    assert result.problems[0].check == "file.unreadable" and "密码" in message and "加密" in message
    assert ".xls" not in message.replace(".xlsx", "")  # not "an old .xls"
    old_xls = compound_file({"Workbook": b"\x09\x08" + b"\0" * 5000})
    assert "旧版 .xls" in read_submission("old.xlsx", old_xls, len(old_xls)).problems[0].message


# --------------------------------------------------------------------------- a reopen reason printed


def test_a_reopen_reasons_control_characters_are_inert_when_printed(tmp_path, monkeypatch, capsys):
    from etdz.cli import main

    monkeypatch.setenv("ETDZ_WAREHOUSE", str(tmp_path / "warehouse"))
    folder = tmp_path / "warehouse" / "_published" / "data_year=2021"
    folder.mkdir(parents=True)
    (folder / "history.jsonl").write_text(json.dumps({"action": "publish", "at": "2026-01-01T00:00:00+00:00",
                                                      "by": "考核办", "note": ""}) + "\n", encoding="utf-8")
    reason = "更正\x1b[2J\x1b[31m\r数据已核准\u202e\n伪造的一行"
    assert main(["reopen", "--data-year", "2021", "--reason", reason, "--by", "张三\x07"]) == 0
    out = capsys.readouterr().out
    assert not any(c in out.rstrip("\n") for c in "\x1b\r\n\x07\u202e")
    assert "更正" in out and "伪造的一行" in out
    recorded = [json.loads(line) for line in (folder / "history.jsonl").read_text("utf-8").splitlines()][-1]
    assert recorded["reason"] == reason.strip()  # the record keeps what was given
    assert Settings.from_env().warehouse == str(tmp_path / "warehouse")
