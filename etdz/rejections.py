"""What a rejected file is called and what it says first: the one home of the rejection notices' names, the first
error of a file and the times and deadline a zone reads (Beijing time).

The notices themselves are written by :mod:`etdz.validation_page`; the zone cards of :mod:`etdz.reports` point at them
by the same names (``<reports>/<Y>/rejections/<name>``), so both call :func:`notice_names`. No dependency beyond
pandas: card-rendering worker processes import it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

import pandas as pd

from etdz.deadlines import TIMEZONE

NOTICES_FOLDER = "rejections"  # under the year's reports folder


def _none(v):
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return None
    return v


def notice_name(zone_code: object, sha256: str, known: Iterable[str] | pd.DataFrame | None) -> str:
    """The file name of a rejection notice: ``<zone_code>_<sha12>.txt`` when the file's zone is a known (registry)
    zone, else ``unknown_<sha12>.txt`` — a code read from a file becomes part of a path only once the registry vouches
    for it (registry codes are ``[A-Za-z0-9_-]``). ``known``: the registry (a frame with ``zone_code``) or its codes."""
    if isinstance(known, pd.DataFrame):
        known = known["zone_code"]
    ok = known is not None and zone_code is not None and zone_code in set(known)
    return f"{zone_code if ok else 'unknown'}_{sha256[:12]}.txt"


def notice_key(file_name: object, sha256: object) -> str:
    """The fingerprint a notice is named by: the file's SHA-256, or for a file that could not be read (no SHA-256) a
    hash of its name."""
    sha = _none(sha256)
    if sha:
        return str(sha)
    return hashlib.sha256(str(file_name).encode("utf-8", "surrogateescape")).hexdigest()


def notice_names(log: pd.DataFrame, known: Iterable[str] | pd.DataFrame | None) -> dict[tuple[str, str], str]:
    """The notice of every rejected file of a submission log, keyed by ``(file_name, notice_key)``, in log order.

    The same bytes under another file name are a submission of their own and get a notice of their own
    (``<zone>_<sha12>_2.txt``, …)."""
    if isinstance(known, pd.DataFrame):
        known = known["zone_code"]
    known = set(known) if known is not None else None
    out: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    if log is None or len(log) == 0:
        return out
    rejected = log[log["status"] == "rejected"]
    for file_name, sha, zone in zip(rejected["file_name"], rejected["sha256"], rejected["zone_code"]):
        key = notice_key(file_name, sha)
        name = notice_name(_none(zone), key, known)
        if name in taken:
            stem = name.removesuffix(".txt")
            name = next(f"{stem}_{n}.txt" for n in range(2, len(taken) + 3) if f"{stem}_{n}.txt" not in taken)
        taken.add(name)
        out[(str(file_name), key)] = name
    return out


def first_errors(issues: pd.DataFrame) -> dict[tuple[str, str], str]:
    """The first error message of each file, keyed by ``(file_name, notice_key)``: what the file was rejected for,
    in words (the issues are in the order the checks found them)."""
    out: dict[tuple[str, str], str] = {}
    if issues is None or len(issues) == 0:
        return out
    errors = issues[issues["severity"] == "error"]
    for file_name, sha, message in zip(errors["file_name"], errors["sha256"], errors["message"]):
        out.setdefault((str(file_name), notice_key(file_name, sha)), "" if _none(message) is None else str(message))
    return out


def beijing_time(ts) -> str:
    """A timestamp as Beijing time, ``YYYY-MM-DD HH:MM`` (naive ones are UTC, as ``received_at``); "" when unknown."""
    if _none(ts) is None:
        return ""
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    return t.tz_convert(TIMEZONE).strftime("%Y-%m-%d %H:%M")


def deadline_text(day: date) -> str:
    """The deadline as a zone reads it: the last day, Beijing time, inclusive."""
    return f"{day.isoformat()}（北京时间，含当日 Beijing time, inclusive）"
