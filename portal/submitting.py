"""Checking and submitting a file (docs/contract/06-portal.md §6.2), approval, and what a submission's status is.

The check is the run's own: :class:`etdz.checking.Checker` (one warm instance per process and configuration,
:func:`checker`), the same checks, codes and messages as the ingestion. The portal adds one check of its own,
``portal.other_zone``: a file for another zone than the account's.

An accepted file is written into ``<inbox>/<data_year>/<zone_code>_<sha256[:12]>.<csv|xlsx>`` — never the
uploaded name — by :func:`deliver`: the bytes go to a staging folder of the inbox (``<inbox>/.portal/``, outside
every year folder, so no run ever lists a half-written file) through the project's atomic writer
(:func:`etdz.commit.replace_file`: a temporary name, fsync, rename), get the submission's time as their
modification time, and are renamed into the year folder, whose entry is then made durable. Lateness and "the
latest file wins" therefore judge the submission, not the approval.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from django.conf import settings as dj
from django.db import IntegrityError, transaction
from django.utils import timezone

from etdz.checking import Checker, CheckResult
from etdz.commit import fsync_dir, replace_file
from etdz.deadlines import deadline, late_flags, parse_deadlines
from etdz.errors import StorageError
from etdz.publish import is_published
from etdz.reading import ROW_KEY, read_submission
from etdz.storage import Warehouse
from etdz.validation_page import FIX_ZH
from portal.access import Who
from portal.config import portal_home
from portal.models import Answer, Query, Submission

#: warnings a zone must explain when it submits (06 §6.2): soft range, year-on-year change, a consistency rule
#: within its tolerance or ``not_above``, a required measure missing, measures dropped against its accepted file —
#: not number-format, extra-column or not-due warnings
SUBSTANTIVE = frozenset({"row.soft_range", "row.yoy_change", "row.inconsistent", "row.not_above",
                         "row.required_missing", "file.required_absent", "file.measures_dropped"})
OTHER_ZONE = "portal.other_zone"
MAX_EXPLANATION = 2000  # characters of one explanation

_checkers: dict = {}
_checkers_lock = threading.Lock()


def checker() -> Checker:
    """The process's warm checker for the configuration in force (built on first use)."""
    settings = dj.ETDZ
    with _checkers_lock:
        hit = _checkers.get(settings)
        if hit is None:
            hit = _checkers[settings] = Checker(settings)
        return hit


# ------------------------------------------------------------------------------------------------ years


def today_local(now: dt.datetime | None = None) -> dt.date:
    return timezone.localtime(now or timezone.now()).date()


def open_year(now: dt.datetime | None = None) -> int:
    """The data year zones report now: the calendar year just closed (Asia/Shanghai) — zones report after their
    annual statistics close (01-domain.md); after its deadline files are still taken, flagged late."""
    return today_local(now).year - 1


def deadline_of(data_year: int) -> dt.date:
    """The data year's deadline (``deadlines`` setting, else the default of :mod:`etdz.deadlines`)."""
    return deadline(data_year, parse_deadlines(dj.ETDZ.deadlines))


def is_late(data_year: int, at: dt.datetime) -> bool:
    """Whether a file received at ``at`` is late — the pipeline's own rule (:func:`etdz.deadlines.late_flags`)."""
    flags = late_flags(pd.Series([pd.Timestamp(at)]), data_year, parse_deadlines(dj.ETDZ.deadlines))
    return bool(flags.iloc[0])


def published(data_year: int) -> bool:
    return is_published(Warehouse(dj.ETDZ.warehouse), int(data_year)) is not None


# ------------------------------------------------------------------------------------------------ issues


def warning_key(issue: dict) -> str:
    """The key an explanation is given under: ``"<check>:<row>"``, ``"<check>:"`` for a file-level warning."""
    row = issue.get("row")
    return f"{issue['check']}:{'' if row is None else int(row)}"


def issue_dicts(result: CheckResult) -> list[dict]:
    """The check's issues as JSON-ready dicts: what the API answers and the page shows (with how to fix it)."""
    out = []
    for rec in result.issues.to_dict("records"):
        clean = {k: (None if v is None or (not isinstance(v, str) and pd.isna(v)) else v) for k, v in rec.items()}
        row = clean.get("row")
        item = {"severity": clean["severity"], "scope": clean["scope"], "check": clean["check"],
                "row": None if row is None else int(row), "column": clean.get("column"),
                "value": clean.get("value"), "expected": clean.get("expected"), "message": clean["message"],
                "fix": FIX_ZH.get(clean["check"], "")}
        item["explain"] = item["severity"] == "warning" and item["check"] in SUBSTANTIVE
        if item["explain"]:
            item["key"] = warning_key(item)
        out.append(item)
    return out


def to_explain(issues: list[dict]) -> list[str]:
    """The keys of the substantive warnings, in the issues' order, each once."""
    return list(dict.fromkeys(i["key"] for i in issues if i.get("explain")))


@dataclass
class Checked:
    """A check's answer: the checker's result and the issues the portal shows (``portal.other_zone`` added)."""

    result: CheckResult
    issues: list[dict]
    data: bytes = field(repr=False, default=b"")
    name: str = ""
    received_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return not any(i["severity"] == "error" for i in self.issues)


def upload_name(name: str | None) -> str:
    """The uploaded name as the checker sees it: its last path part, never a path (``../../x.csv`` → ``x.csv``);
    only its extension decides the format."""
    base = str(name or "").replace("\\", "/").rsplit("/", 1)[-1].replace("\x00", "")
    return base or "upload"


def check_upload(who: Who, data: bytes, name: str | None, data_year: int | None = None,
                 received_at: dt.datetime | None = None) -> Checked:
    """Check an uploaded file as the run would (nothing is stored), for the account ``who``."""
    received_at = received_at or timezone.now()
    fname = upload_name(name)
    result = checker().check(data, fname, data_year=data_year,
                             received_at_ns=int(received_at.timestamp() * 1e9))
    issues = issue_dicts(result)
    if who.role == "zone" and result.zone_code and result.zone_code != who.zone_code:
        issues.insert(0, {"severity": "error", "scope": "file", "check": OTHER_ZONE, "row": None,
                          "column": "zone_code", "value": result.zone_code, "expected": who.zone_code,
                          "message": f"文件「{fname}」是园区「{result.zone_code}」的数据，本账户只能报送园区"
                                     f"「{who.zone_code}」的数据 / this file is for another zone than this account's",
                          "fix": f"请只报送本园区（{who.zone_code}）的数据文件。", "explain": False})
    return Checked(result, issues, data=data, name=fname, received_at=received_at)


# ------------------------------------------------------------------------------------------------ submitting


@dataclass
class Outcome:
    """What a submission came to: HTTP status (201 accepted, 200 already submitted, 422 refused, 409 refused
    because of the year's state, 503 the file could not be written — nothing recorded), the submission, the
    issues, the warnings still to explain, a message."""

    status: int
    submission: Submission | None = None
    issues: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    message: str = ""


def stored_name(zone_code: str, sha256: str, file_format: str) -> str:
    """The portal's name for a file in the inbox: ``<zone_code>_<sha256[:12]>.<csv|xlsx>``."""
    return f"{zone_code}_{sha256[:12]}.{file_format}"


def held_path(sub: Submission) -> Path:
    """Where a file awaiting its province's approval is kept (by SHA-256, never the uploaded name)."""
    return portal_home(dj.ETDZ) / "held" / f"{sub.sha256}.{sub.file_format}"


def deliver(sub: Submission, data: bytes) -> Path:
    """Write the submission's bytes into ``<inbox>/<data_year>/`` under its stored name, durably, its
    modification time the submission's (module docstring). Idempotent: the same bytes land on the same name."""
    inbox = Path(dj.ETDZ.inbox)
    folder = inbox / str(sub.data_year)
    folder.mkdir(parents=True, exist_ok=True)
    staged = replace_file(inbox / ".portal" / str(sub.data_year) / sub.stored_name, data)
    ns = int(sub.submitted_at.timestamp() * 1e9)
    os.utime(staged, ns=(ns, ns))
    target = folder / sub.stored_name
    try:
        os.replace(staged, target)
    except OSError:
        staged.unlink(missing_ok=True)  # nothing half-done is left behind
        raise
    fsync_dir(folder)
    return target


def explanation_problems(keys: list[str], explanations: dict) -> list[str]:
    """The warnings of ``keys`` without a usable explanation."""
    return [k for k in keys if not str(explanations.get(k) or "").strip()]


def submit(who: Who, checked: Checked, explanations: dict | None, address: str) -> Outcome:
    """Submit a checked file (§6.2): refused with errors (422) or missing explanations (422, the keys), refused
    for a published year (409); else recorded and delivered into the inbox — or held until the province
    approves it when ``approval_required``. The same bytes submitted again are the same submission (200)."""
    res, issues = checked.result, checked.issues
    if not checked.ok:
        return Outcome(422, issues=issues, message="文件有错误，未报送 / the file has errors and was not submitted")
    year, zone = res.data_year, res.zone_code
    if year is None or zone is None:  # cannot happen without an error; kept so a change elsewhere fails loudly
        return Outcome(422, issues=issues, message="文件没有确定的园区或年份 / no single zone or year")
    keys = to_explain(issues)
    explanations = {str(k): str(v)[:MAX_EXPLANATION] for k, v in (explanations or {}).items() if str(k) in keys}
    missing = explanation_problems(keys, explanations)
    if missing:
        return Outcome(422, issues=issues, missing=missing,
                       message="请为每条警告填写说明后再报送 / explain each warning before submitting")
    if published(year):
        return Outcome(409, issues=issues,
                       message=f"{year} 年度结果已发布，不再接收报送（如需更正，请先由部里重新开放该年度） / data year "
                               f"{year} is published: it must be reopened first")
    existing = Submission.objects.filter(sha256=res.sha256).first()
    if existing is not None and existing.state != "returned":
        return Outcome(200, submission=existing, issues=existing.issues,
                       message="该文件已报送 / this file was already submitted")
    now = checked.received_at or timezone.now()
    fmt = "xlsx" if checked.name.lower().endswith(".xlsx") else "csv"
    hold = bool(dj.ETDZ.approval_required)
    try:
        with transaction.atomic():
            sub = existing or Submission(sha256=res.sha256)
            sub.zone_code, sub.data_year, sub.file_format = zone, year, fmt
            sub.stored_name = stored_name(zone, res.sha256, fmt)
            sub.original_name, sub.size_bytes = checked.name, len(checked.data)
            sub.submitted_at, sub.submitted_by_id, sub.address = now, who.user_id, address
            sub.late, sub.issues, sub.explanations = is_late(year, now), issues, explanations
            sub.state = "awaiting_approval" if hold else "submitted"
            sub.returned_by, sub.returned_at, sub.return_reason = None, None, ""
            sub.delivered_at = None if hold else timezone.now()
            sub.save()
            _explained_queries(who, sub, issues, explanations, checked)
            if hold:
                replace_file(held_path(sub), checked.data)
            else:
                deliver(sub, checked.data)
    except IntegrityError:  # the same bytes submitted at the same moment by another request: that one won
        sub = Submission.objects.get(sha256=res.sha256)
        return Outcome(200, submission=sub, issues=sub.issues, message="该文件已报送 / this file was already submitted")
    except (OSError, StorageError) as exc:  # the inbox (or the held folder) refused: nothing is recorded
        return Outcome(503, issues=issues, message=f"文件未能写入，未报送，请稍后重试 / the file could not be written "
                                                   f"and was not submitted; try again later ({exc})")
    return Outcome(201, submission=sub, issues=issues)


def _row_measures(checked: Checked) -> dict[int, str]:
    """The measure code of each data row of the file (for the queries an explanation opens), read by the
    ingestion's own reader."""
    s = dj.ETDZ
    read = read_submission(checked.name, checked.data, len(checked.data), s.max_file_bytes)
    return {int(r[ROW_KEY]): str(r.get("measure_code") or "").strip() for r in read.rows if r.get(ROW_KEY) is not None}


def _explained_queries(who: Who, sub: Submission, issues: list[dict], explanations: dict, checked: Checked) -> None:
    """Every explained warning opens a query already ``answered`` with its explanation (§6.3)."""
    if not explanations:
        return
    measures = _row_measures(checked)
    seen = set()
    now = timezone.now()
    for i in issues:
        key = i.get("key")
        if not i.get("explain") or key in seen or key not in explanations:
            continue
        seen.add(key)
        measure = measures.get(i["row"], "") if i["row"] is not None else ""
        q = Query.objects.create(data_year=sub.data_year, zone_code=sub.zone_code, measure_code=measure,
                                 question=i["message"], state="answered", opened_by_id=who.user_id, opened_at=now,
                                 updated_at=now, submission=sub, warning_key=key)
        Answer.objects.create(query=q, author_id=who.user_id, text=explanations[key], submission=sub, at=now)


# ------------------------------------------------------------------------------------------------ approval


class Refused(Exception):
    """An action the object's state does not allow (409), or that could not be done now (503), with the reason."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def approve(who: Who, sub: Submission) -> Submission:
    """The province approves (审核通过) a submission; one awaiting approval then reaches the inbox."""
    with transaction.atomic():
        sub = Submission.objects.select_for_update().get(pk=sub.pk)
        if sub.state == "returned":
            raise Refused("已退回的文件不能再审核通过；请园区重新报送 / a returned file cannot be approved: the zone "
                          "submits it again")
        if sub.approved_at is not None:
            return sub
        if sub.state == "awaiting_approval" and published(sub.data_year):
            raise Refused(f"{sub.data_year} 年度结果已发布 / data year {sub.data_year} is published")
        sub.approved_by_id, sub.approved_at = who.user_id, timezone.now()
        if sub.state == "awaiting_approval":
            try:
                deliver(sub, held_path(sub).read_bytes())
            except (OSError, StorageError) as exc:  # nothing changes: the file still waits, try again
                raise Refused(f"文件未能写入收件箱，请稍后重试 / the file could not be written into the inbox; try "
                              f"again later ({exc})", 503) from exc
            sub.state, sub.delivered_at = "submitted", timezone.now()
        sub.save()
    if sub.delivered_at is not None:
        held_path(sub).unlink(missing_ok=True)
    return sub


def return_(who: Who, sub: Submission, reason: str) -> Submission:
    """The province returns a submission awaiting its approval, with a reason; it never reaches the inbox. A file
    already in the inbox (no approval required) is not taken back: the zone submits a corrected one."""
    reason = str(reason or "").strip()
    if not reason:
        raise Refused("退回须说明理由 / a return needs a reason")
    with transaction.atomic():
        sub = Submission.objects.select_for_update().get(pk=sub.pk)
        if sub.state == "returned":
            return sub
        if sub.state != "awaiting_approval":
            raise Refused("该文件已进入收件箱，不能退回；请园区报送更正后的文件 / the file is already in the "
                          "inbox: the zone submits a corrected one")
        sub.state, sub.returned_by_id, sub.returned_at, sub.return_reason = "returned", who.user_id, \
            timezone.now(), reason[:MAX_EXPLANATION]
        sub.save()
    held_path(sub).unlink(missing_ok=True)
    return sub


# ------------------------------------------------------------------------------------------------ status


_log_cache: dict[tuple, tuple] = {}


def pipeline_log(data_year: int) -> pd.DataFrame | None:
    """The year's ``submission_log`` as the last run wrote it (through the core's storage), or None."""
    store = Warehouse(dj.ETDZ.warehouse)
    try:
        info = store.fs.info(store.path("submission_log", data_year))
        key = (dj.ETDZ.warehouse, int(data_year), info.get("size"), info.get("mtime") or info.get("ETag"))
    except (FileNotFoundError, OSError):
        return None
    hit = _log_cache.get((dj.ETDZ.warehouse, int(data_year)))
    if hit is not None and hit[0] == key:
        return hit[1]
    table = store.read("submission_log", data_year)
    log = None if table is None else table.to_pandas()
    _log_cache[(dj.ETDZ.warehouse, int(data_year))] = (key, log)
    return log


def status_of(sub: Submission, log: pd.DataFrame | None) -> tuple[str, bool]:
    """(status, late) a zone sees (§6.2): the pipeline's once its year has run and the file is in its log, else
    ``submitted`` / ``awaiting_approval`` / ``returned``."""
    if log is not None and sub.delivered_at is not None and len(log):
        hit = log.loc[(log["sha256"] == sub.sha256) & (log["file_name"] == sub.stored_name)]
        if len(hit):
            row = hit.iloc[-1]
            return str(row["status"]), bool(row["late"]) if pd.notna(row["late"]) else sub.late
    return sub.state, sub.late


def submission_dict(sub: Submission, log: pd.DataFrame | None = None, *, with_issues: bool = False) -> dict:
    """A submission as the API answers it (06 §6.5)."""
    status, late = status_of(sub, log)
    out = {"sha256": sub.sha256, "zone_code": sub.zone_code, "data_year": sub.data_year, "status": status,
           "late": late, "submitted_at": sub.submitted_at.isoformat(), "submitted_by": sub.submitted_by.username,
           "file_name": sub.original_name, "stored_name": sub.stored_name,
           "approved": sub.approved_at is not None, "return_reason": sub.return_reason}
    if with_issues:
        out["issues"] = sub.issues
        out["explanations"] = sub.explanations
    return out
