"""Reading untrusted submission files (docs/contract/02-inputs.md §2.1) into rows of cells.

Nothing here trusts the file: the size is checked before reading, CSV is decoded
strictly (UTF-8 with or without BOM, then GB18030; anything else is refused, never
guessed), XLSX is opened by openpyxl in read-only mode (defusedxml installed, so no
XML entity expansion) only after a zip-bomb guard has looked at the archive's
directory, formulas are never evaluated (a formula cell is kept as a :class:`Formula`
and is an invalid value), and the file name is never used for anything but display.

:func:`read_submission` returns a :class:`ReadResult`: either file-level problems
(``problems``, each a :class:`FileProblem` with a stable check code) or a table of
data rows (``rows``: one dict per non-blank row, keyed by the normalised column
name, plus ``__row__``, the row number a user sees in Excel: the header is row 1).

The batch path: asked to (``defer=True``), :func:`read_submission` does not parse a CSV that passes the cheap
tests of :func:`pending_csv` (strict UTF-8, no quote, no control character, no lone CR, every line with the
header's number of commas, a header of distinct known names with the required ones): its result is *pending*,
and :func:`read_csv_batch` later parses the year's pending files in one pyarrow pass (one per header), into one
:class:`CsvBatch` of string columns. Such a file has no quoting, no overflow, no extra column and no empty line,
so its rows are exactly the fields between its commas, as the per-file reader would give them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etdz.cells import BLANK, cell_text, is_blank

REQUIRED_COLUMNS = ("zone_code", "data_year", "measure_code", "value", "unit")
OPTIONAL_COLUMNS = ("note",)
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
ROW_KEY = "__row__"
EXTRA_KEY = "__extra__"  # CSV: non-empty fields beyond the header (list of strings)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: a file may hold at most this many non-blank data rows per measure of the year's catalogue (a submission has one
#: row per measure; a few times that leaves room for notes and mistakes, 200,000 rows are refused unparsed)
DEFAULT_ROWS_PER_MEASURE = 10
#: zip-bomb guard: total uncompressed size of all members, and the worst member ratio
DEFAULT_MAX_UNCOMPRESSED = 200 * 1024 * 1024
DEFAULT_MAX_RATIO = 200.0
_RATIO_MIN_SIZE = 1024 * 1024  # small members may compress a lot (an empty sheet); only big ones are judged
_MAX_MEMBERS = 10_000
#: an XML part of the workbook (a worksheet, the styles) and the shared-strings table, uncompressed, at most
_MAX_XML_PART = 16 * 1024 * 1024
_MAX_SHARED_STRINGS = 8 * 1024 * 1024
_MAX_SHARED_STRING_COUNT = 200_000

_FORMATS = {".csv": "csv", ".xlsx": "xlsx"}


@dataclass(frozen=True)
class Formula:
    """An XLSX formula cell: kept as its text, never evaluated."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class FileProblem:
    """A file-level error found while reading (always severity error, scope file)."""

    check: str
    message: str  # Chinese, without the file name (the caller adds it)
    column: str | None = None
    value: str | None = None
    expected: str | None = None


@dataclass
class ReadResult:
    file_format: str | None = None  # "csv" | "xlsx" | None (not CSV/XLSX)
    encoding: str | None = None  # "utf-8", "utf-8-sig", "gb18030" for CSV
    header: list[str] = field(default_factory=list)  # normalised column names, in file order
    raw_header: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)  # unknown columns holding data (raw names)

    row_count: int | None = None  # set when ``rows`` is released after the long frame is built, or read in a batch
    #: False when no row has anything in ``value`` (a blank template): the file reports no figure at all
    has_values: bool = True

    #: a CSV not parsed yet: it waits for the year's batch (``etdz.validation.files.read_deferred``)
    pending: PendingCsv | None = None
    #: a CSV read in a batch: its rows are ``batch``'s rows whose ``owner`` is ``batch_pos`` (``rows`` stays empty)
    batch: CsvBatch | None = None
    batch_pos: int = -1
    zone: str | None = None  # read in a batch: the one zone code every row names

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def n_rows(self) -> int:
        return self.row_count if self.row_count is not None else len(self.rows)

    def release_rows(self) -> None:
        """Drop the per-row dicts (or the reference to the batch) once their content is in the year's long frame
        (at 23,000 files they are most of the memory); ``n_rows`` still answers."""
        self.row_count = self.n_rows
        self.rows = []
        self.batch = None


_TEMPORARY = (
    # (test on the name, what it is, in the message)
    (lambda n: n.startswith("~$"), "Excel 打开文件时留下的临时锁文件（~$…）"),
    (lambda n: n.startswith(".~lock.") and n.endswith("#"), "LibreOffice/WPS 打开文件时留下的锁文件（.~lock.…#）"),
    (lambda n: n.lower().endswith((".part", ".crdownload", ".partial", ".download")), "未下载完成的文件"),
    (lambda n: n.lower().endswith((".tmp", ".temp")), "临时文件（.tmp）"),
)


def temporary_name(name: str) -> str | None:
    """What a temporary name is (Excel's ``~$x.xlsx``, ``.~lock.x#``, ``*.part``, ``*.tmp``, ``*.crdownload``),
    in Chinese for the message, or None for an ordinary name."""
    for test, what in _TEMPORARY:
        if test(name):
            return what
    return None


def file_format(name: str) -> str | None:
    """``csv`` / ``xlsx`` from the extension (case-insensitive), None for anything else."""
    return _FORMATS.get(PurePath(name).suffix.lower())


def normalise_column(name: object) -> str:
    """A column name as matched: trimmed (:data:`etdz.cells.BLANK`) and lower-cased."""
    return cell_text(name).lower()


def _percent_text(v: float) -> str:
    """0.125 → "12.5%" exactly (decimal arithmetic, so 0.07 gives "7%", not "7.000000000000001%")."""
    from decimal import Decimal

    d = (Decimal(repr(float(v))) * 100).normalize()
    return f"{d:f}%"


# --------------------------------------------------------------------------- decoding


def decode_csv(data: bytes) -> tuple[str | None, str | None]:
    """Strict decoding: UTF-8 (a BOM is dropped), then GB18030. Returns (text, encoding) or (None, None)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            return None, None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, None  # UTF-16: GB18030 would take it byte by byte
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return None, None


_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f]")  # C0 controls except \t \n \x0c \r


def _looks_binary(text: str) -> bool:
    return "\x00" in text or len(_CONTROL.findall(text, 0, 4096)) > 8


# --------------------------------------------------------------------------- header


def _header_problems(result: ReadResult, first_rows: list[tuple[int, list[object]]]) -> None:
    """Required columns, duplicate columns, unknown columns (the extra ones become a warning later)."""
    header = result.header
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        if h and h in seen:
            result.problems.append(FileProblem(
                "file.duplicate_column", f"列名「{cell_text(result.raw_header[i])}」出现了不止一次（列名不区分大小写）",
                column=h, value=result.raw_header[i], expected="每个列名只出现一次"))
        seen.setdefault(h, i)
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        hint = ""
        joined = ",".join(result.raw_header)
        if len([h for h in header if h]) <= 1 and any(sep in joined for sep in (";", "\t", "|", "；")):
            hint = "。文件似乎不是用英文逗号分隔的（发现分号或制表符），请另存为“CSV（逗号分隔）”"
        else:
            for n, row in first_rows[:20]:
                names = {normalise_column(v) for v in row}
                if all(c in names for c in REQUIRED_COLUMNS):
                    hint = f"。第 {n} 行看起来才是表头：表头必须在第 1 行，请删除其上方的标题行"
                    break
        result.problems.append(FileProblem(
            "file.missing_columns",
            f"缺少必需的列：{'、'.join(missing)}（第 1 行为表头，应包含 {', '.join(REQUIRED_COLUMNS)}）{hint}",
            column=",".join(missing), value=joined[:200], expected=",".join(REQUIRED_COLUMNS)))


def _build_rows(result: ReadResult, body: list[tuple[int, list[object]]]) -> None:
    header = result.header
    width = len(header)
    extra_with_data: set[int] = set()
    for rownum, cells in body:
        if all(is_blank(v) for v in cells):
            continue  # blank rows (trailing lines Excel leaves) are not data
        rec: dict = {ROW_KEY: rownum}
        for i, h in enumerate(header):
            v = cells[i] if i < len(cells) else None
            if h == "":
                if not is_blank(v):
                    extra_with_data.add(i)
                continue
            if h not in rec:  # first of duplicate columns (a duplicate column is a file error anyway)
                rec[h] = v
            if h not in KNOWN_COLUMNS and not is_blank(v):
                extra_with_data.add(i)
        overflow = [cell_text(v) for v in cells[width:] if not is_blank(v)]
        if overflow:
            rec[EXTRA_KEY] = overflow
        result.rows.append(rec)
    result.has_values = any(not is_blank(rec.get("value")) for rec in result.rows)
    names = []
    for i, h in enumerate(header):
        if h not in KNOWN_COLUMNS and (h != "" or i in extra_with_data):
            if h == "" and i not in extra_with_data:
                continue
            names.append(cell_text(result.raw_header[i]) or f"(第 {i + 1} 列，无列名)")
    result.extra_columns = names


# --------------------------------------------------------------------------- CSV


#: bounds whatever a file declares: columns kept (a value beyond is a problem; the header has six known names),
#: characters in one cell (Excel's own limit), rows of a worksheet parsed in all (blank formatted rows included)
MAX_COLUMNS = 256
MAX_CELL_CHARS = 32_767
MAX_SHEET_ROWS = 20_000


def too_wide(columns: int, where: str) -> FileProblem:
    """The problem of a file with data (or a header) beyond column :data:`MAX_COLUMNS`."""
    return FileProblem("file.too_wide",
                       f"{where}有超过 {MAX_COLUMNS} 列的内容（第 {columns} 列），文件未读取；一份报送只需 "
                       f"{len(KNOWN_COLUMNS)} 列（{', '.join(KNOWN_COLUMNS)}），请删除多余的列后重新保存",
                       value=str(columns), expected=f"不超过 {MAX_COLUMNS} 列")


def cell_too_long(row: int, column: str, length: int) -> FileProblem:
    """The problem of a cell longer than :data:`MAX_CELL_CHARS` characters."""
    return FileProblem("file.cell_too_long",
                       f"第 {row} 行第 {column} 列的单元格有 {length} 个字符，超过上限 {MAX_CELL_CHARS} 个字符"
                       f"（Excel 单元格的上限），文件未读取；请删除或缩短该单元格的内容",
                       column=column, value=f"{length} 个字符", expected=f"不超过 {MAX_CELL_CHARS} 个字符")


def too_many_rows(max_rows: int, row: int) -> FileProblem:
    """The problem of a file with more than ``max_rows`` non-blank data rows (found at row ``row``)."""
    return FileProblem(
        "file.too_many_rows",
        f"非空数据行超过上限 {max_rows} 行（上限由本年度考核办法的指标数决定；第 {row} 行已超出），其余部分未读取。"
        f"一份报送每个指标只填写一行，请删除多余的行或拆分为各园区各自的文件",
        value=f"> {max_rows}", expected=f"不超过 {max_rows} 行非空数据")


def _record_problem(rec: list[str], n: int) -> FileProblem | None:
    """The bound a CSV record (row ``n``) breaks: data beyond :data:`MAX_COLUMNS` columns, a cell over
    :data:`MAX_CELL_CHARS` characters; None when it keeps both."""
    if len(rec) > MAX_COLUMNS:
        beyond = [i for i in range(len(rec) - 1, MAX_COLUMNS - 1, -1) if not is_blank(rec[i])][:1]
        if beyond:
            return too_wide(beyond[0] + 1, "表头" if n == 1 else f"第 {n} 行")
    longest = max(map(len, rec), default=0)
    if longest > MAX_CELL_CHARS:
        i = next(i for i, v in enumerate(rec) if len(v) == longest)
        return cell_too_long(n, str(i + 1), longest)
    return None


def read_csv_bytes(data: bytes, max_rows: int | None = None) -> ReadResult:
    """Read a CSV submission; at most ``max_rows`` non-blank data rows are parsed (None: no limit)."""
    result = ReadResult(file_format="csv")
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        result.problems.append(FileProblem("file.empty", "文件是空的（没有表头，也没有数据）",
                                           expected="第 1 行为表头，其下每行一个指标"))
        return result
    text, encoding = decode_csv(data)
    if text is None:
        utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
        msg = ("文件是 UTF-16 编码（Excel 的“Unicode 文本”），请在 Excel 中另存为“CSV UTF-8（逗号分隔）”" if utf16 else
               "文件既不是 UTF-8 也不是 GB18030/GBK 编码的文本，无法可靠读取；"
               "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”或 .xlsx")
        result.problems.append(FileProblem("file.encoding", msg, expected="UTF-8（可带 BOM）或 GB18030/GBK"))
        return result
    result.encoding = encoding
    if _looks_binary(text):
        result.problems.append(FileProblem("file.encoding",
                                           "文件含有二进制内容（如 NUL 字节），不是文本 CSV 文件；"
                                           "请另存为 CSV 或 .xlsx",
                                           expected="UTF-8（可带 BOM）或 GB18030/GBK 文本"))
        return result
    if text.count('"') % 2:
        # Python's csv reader swallows the rest of the file into an unterminated quoted field
        result.problems.append(FileProblem("file.unreadable",
                                           "CSV 格式错误：双引号没有成对出现（有未结束的引号），"
                                           "请用 Excel 重新另存为 CSV",
                                           expected="逗号分隔、标准引号的 CSV"))
        return result
    header: list[str] | None = None
    body: list[tuple[int, list[object]]] = []  # non-blank rows only (blank ones are never data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for n, rec in enumerate(reader, start=1):
            bounded = _record_problem(rec, n)
            if bounded is not None:
                result.problems.append(bounded)
                return result  # the rest of the file is never parsed
            if n == 1:
                header = list(rec)
            elif any(not is_blank(v) for v in rec):
                if max_rows is not None and len(body) >= max_rows:
                    result.problems.append(too_many_rows(max_rows, n))
                    return result  # the rest of the file is never parsed
                body.append((n, list(rec)))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # a cell of over 131,072 characters
            result.problems.append(FileProblem(
                "file.cell_too_long", f"第 {reader.line_num} 行附近有单元格超过 {csv.field_size_limit()} 个字符"
                f"（上限 {MAX_CELL_CHARS} 个字符，Excel 单元格的上限），文件未读取；请删除或缩短该单元格的内容",
                value=f"> {csv.field_size_limit()} 个字符", expected=f"不超过 {MAX_CELL_CHARS} 个字符"))
            return result
        result.problems.append(FileProblem("file.unreadable",
                                           f"CSV 格式错误（引号或字段不完整：{exc}），请用 Excel 重新另存为 CSV",
                                           expected="逗号分隔、标准引号的 CSV"))
        return result
    # the first non-blank line is NOT skipped: the header must be in row 1
    if header is None or (not body and all(is_blank(v) for v in header)):
        result.problems.append(FileProblem("file.empty", "文件没有任何内容",
                                           expected="第 1 行为表头，其下每行一个指标"))
        return result
    result.raw_header = header
    return _header_and_rows(result, body, "文件只有表头，没有任何数据行")


# --------------------------------------------------------------------------- CSV, many files in one pass

# A character that may make the per-file reader see something else than the fields between the commas: a quote,
# a BOM after the first one, control characters (C0 but tab and line ends, DEL, C1)
_NOT_BATCHED = re.compile('["\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]')
_UTF8 = ("utf-8", "utf-8-sig")


@dataclass
class PendingCsv:
    """A CSV that passed :func:`pending_csv`: its bytes and header, waiting for :func:`read_csv_batch`."""

    data: bytes
    encoding: str
    raw_header: list[str]
    header: list[str]  # normalised, distinct, known, with every required column
    body_start: int  # offset of the first data line in ``data``
    lines: int  # data lines (none is empty)
    max_rows: int | None  # the limit it was read with (for the per-file read it may fall back to)

    def body(self) -> bytes:
        """The data lines, the last one ending with a line feed too."""
        body = self.data[self.body_start:]
        return body if body.endswith(b"\n") else body + b"\n"


def pending_csv(data: bytes, max_rows: int | None = None) -> PendingCsv | None:
    """The header and layout of a CSV the batch may parse as :func:`read_csv_bytes` would, else None.

    Strict UTF-8 (a BOM is allowed), no ``"``, no control character but tab and line ends, no CR but in CRLF, a
    header whose normalised names are distinct, known and include the required ones, at least one data line and
    at most ``max_rows``. The rest is :func:`read_csv_batch`'s (it needs all files at once, or the parsed fields):
    every line with the header's number of commas (so no empty line, no overflow, no missing field), no blank
    row, at least one value. Cheap: one decode, one regex search, the header line."""
    text, encoding = decode_csv(data)
    if encoding not in _UTF8 or _NOT_BATCHED.search(text) or text.count("\r") != text.count("\r\n"):
        return None
    end = text.find("\n")
    lines = text.count("\n") - 1 + (not text.endswith("\n")) if end >= 0 else 0  # data lines (the last may be unended)
    if lines < 1 or (max_rows is not None and lines > max_rows):
        return None
    if len(text) > MAX_CELL_CHARS and max(map(len, text.split("\n"))) > MAX_CELL_CHARS:
        return None  # a cell may be too long: the per-file reader says which
    raw_header = text[:end].removesuffix("\r").split(",")
    header = [normalise_column(h) for h in raw_header]
    names = set(header)
    if len(names) != len(header) or not names <= set(KNOWN_COLUMNS) or not names >= set(REQUIRED_COLUMNS):
        return None
    return PendingCsv(data, encoding, raw_header, header, data.index(b"\n") + 1, lines, max_rows)  # type: ignore[arg-type]


@dataclass
class CsvBatch:
    """The data rows of many CSV files parsed in one pass: ``table`` holds string columns by normalised name
    (the required ones), ``owner`` the position of each row's file in the batch, ``row`` its Excel row number.
    Each file's rows are contiguous and in file order. ``readable``: per file, every line with the header's
    number of fields, no blank row and at least one value (the other files must be read on their own: the
    per-file reader reports overflow and missing fields, skips blank rows and rejects a blank template)."""

    table: pa.Table
    owner: np.ndarray
    row: np.ndarray
    readable: np.ndarray

    def narrow(self, keep: np.ndarray, columns: list[str]) -> CsvBatch:
        """The rows of the files ``keep`` (a mask over the batch's files) and ``columns`` only."""
        rows = keep[self.owner]
        return CsvBatch(self.table.select(columns).filter(pa.array(rows)), self.owner[rows], self.row[rows], keep)


def _blank(column: pa.ChunkedArray) -> np.ndarray:
    """:func:`~etdz.cells.is_blank` of every cell of a string column (the same characters trimmed, nothing left)."""
    return pc.equal(pc.binary_length(pc.utf8_trim(column, BLANK)), 0).to_numpy(zero_copy_only=False)


def _misshapen(body: bytes, commas: int, members: list[int], lines: list[int]) -> np.ndarray:
    """The ``members`` (files whose ``lines`` data lines, each ending with a line feed, make ``body``) with a line
    that has not ``commas`` commas: counted for all lines at once."""
    buf = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(buf == ord("\n"))
    per_line = np.diff(np.searchsorted(np.flatnonzero(buf == ord(",")), ends), prepend=0)
    return np.unique(np.repeat(np.array(members, dtype=np.int64), lines)[per_line != commas])


def read_csv_batch(pendings: list[PendingCsv]) -> CsvBatch:
    """Parse the data lines of ``pendings`` (one at least) in one pyarrow pass per distinct header (quoting off,
    every field a string, none null, empty lines not skipped). Raises if pyarrow does: the caller then reads the
    files one by one."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, p in enumerate(pendings):
        groups.setdefault(tuple(p.header), []).append(i)
    parse = pacsv.ParseOptions(delimiter=",", quote_char=False, escape_char=False, newlines_in_values=False,
                               ignore_empty_lines=False)
    # a line longer than a block fails the parse: blocks as large as the largest file (1 MB at least)
    block = max([1 << 20] + [len(p.data) + 1 for p in pendings])
    n = len(pendings)
    misshapen = np.zeros(n, dtype=bool)
    tables, owners, rows, blank_rows, blank_values = [], [], [], [], []
    for header, members in groups.items():
        body = b"".join(pendings[i].body() for i in members)
        bad = _misshapen(body, len(header) - 1, members, [pendings[i].lines for i in members])
        if len(bad):
            misshapen[bad] = True
            members = [i for i in members if not misshapen[i]]
            if not members:
                continue
            body = b"".join(pendings[i].body() for i in members)
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=list(header), block_size=block), parse_options=parse,
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, null_values=[],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
        counts = np.array([pendings[i].lines for i in members], dtype=np.int64)
        if table.num_rows != counts.sum():
            raise ValueError(f"the batch parse found {table.num_rows} rows, not {counts.sum()}")
        owners.append(np.repeat(np.array(members, dtype=np.int64), counts))
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        rows.append(np.arange(table.num_rows, dtype=np.int64) - starts + 2)  # the header is row 1
        blank_value = _blank(table["value"])
        blank = blank_value.copy()
        for name in header:
            if name != "value":
                blank &= _blank(table[name])
        blank_rows.append(blank)
        blank_values.append(blank_value)
        tables.append(table.select(list(REQUIRED_COLUMNS)))
    if not tables:  # every file misshapen
        return CsvBatch(pa.table({c: pa.array([], pa.string()) for c in REQUIRED_COLUMNS}),
                        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(n, dtype=bool))
    owner = np.concatenate(owners)
    has_blank_row = np.bincount(owner[np.concatenate(blank_rows)], minlength=n) > 0
    has_value = np.bincount(owner[~np.concatenate(blank_values)], minlength=n) > 0
    return CsvBatch(pa.concat_tables(tables), owner, np.concatenate(rows), ~misshapen & ~has_blank_row & has_value)


# --------------------------------------------------------------------------- XLSX


_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file (an old .xls, or an encrypted .xlsx)
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")  # the stream name, as a directory entry stores it


def encrypted_workbook(data: bytes) -> bool:
    """Whether ``data`` is a password-protected Office file: Excel encrypts an .xlsx into an OLE compound file
    holding the streams ``EncryptionInfo`` and ``EncryptedPackage`` (MS-OFFCRYPTO), whose directory entries name them
    in UTF-16. An old .xls is a compound file too, without those streams."""
    return data.startswith(_CFB_MAGIC) and _ENCRYPTION_INFO in data


def zip_guard(data: bytes, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
              max_ratio: float = DEFAULT_MAX_RATIO) -> FileProblem | None:
    """Look at the archive's directory before anything decompresses it.

    The declared sizes are binding: Python's zipfile stops a member at its declared
    size and checks its CRC, so a member lying about its size cannot expand further.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        if encrypted_workbook(data):
            return FileProblem("file.unreadable",
                               "文件设置了打开密码（已加密），无法读取；请在 Excel 中取消密码"
                               "（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后保存为 .xlsx，或另存为 CSV",
                               expected="未加密的 Excel 工作簿 (.xlsx)")
        hint = "（看起来是旧版 .xls 文件，只是改了扩展名）" if data.startswith(_CFB_MAGIC) else ""
        return FileProblem("file.unreadable",
                           f"不是有效的 .xlsx 文件{hint}；请在 Excel 中另存为“Excel 工作簿 (*.xlsx)”或 CSV",
                           expected="Excel 工作簿 (.xlsx)")
    if len(infos) > _MAX_MEMBERS:
        return FileProblem("file.zip_bomb", f"压缩包内文件数异常（{len(infos)} 个），疑似压缩炸弹，拒绝打开",
                           value=str(len(infos)), expected=f"不超过 {_MAX_MEMBERS} 个")
    total = sum(i.file_size for i in infos)
    if total > max_uncompressed:
        return FileProblem("file.zip_bomb",
                           f"解压后大小 {total} 字节超过上限 {max_uncompressed} 字节，疑似压缩炸弹，拒绝打开",
                           value=str(total), expected=f"解压后不超过 {max_uncompressed} 字节")
    for i in infos:  # the parts a reader parses whole (the XML), each bounded: parsing is memory and time
        limit = _MAX_SHARED_STRINGS if i.filename.lower().endswith("sharedstrings.xml") else _MAX_XML_PART
        if i.filename.lower().endswith((".xml", ".rels")) and i.file_size > limit:
            return FileProblem("file.zip_bomb",
                               f"压缩包成员 {i.filename[:60]} 解压后 {i.file_size} 字节，超过上限 {limit} 字节"
                               f"（一份报送的工作表通常不到 1 MB），疑似压缩炸弹，拒绝打开",
                               value=str(i.file_size), expected=f"每个成员解压后不超过 {limit} 字节")
    for i in infos:
        if i.file_size >= _RATIO_MIN_SIZE and i.file_size / max(i.compress_size, 1) > max_ratio:
            ratio = i.file_size / max(i.compress_size, 1)
            return FileProblem("file.zip_bomb",
                               f"压缩比异常（{ratio:.0f}:1，成员 {i.filename[:60]}），疑似压缩炸弹，拒绝打开",
                               value=f"{ratio:.0f}", expected=f"压缩比不超过 {max_ratio:.0f}:1")
    return None


def _shared_strings_guard(data: bytes) -> FileProblem | None:
    """Bound the shared-strings table by count too (openpyxl loads it whole when the workbook opens): its entries
    are counted in the raw XML (at most :data:`_MAX_SHARED_STRINGS` bytes, checked before) without parsing it."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = [n for n in zf.namelist() if n.lower().endswith("sharedstrings.xml")]
        if not names:
            return None
        raw = zf.read(names[0])
    count = raw.count(b"<si>") + raw.count(b"<si ") + raw.count(b"<si/>") + len(re.findall(rb"<\w+:si[\s>/]", raw))
    if count > _MAX_SHARED_STRING_COUNT:
        return FileProblem("file.zip_bomb",
                           f"共享字符串表有 {count} 个条目，超过上限 {_MAX_SHARED_STRING_COUNT} 个"
                           f"（一份报送通常不到 1,000 个），疑似压缩炸弹，拒绝打开",
                           value=str(count), expected=f"不超过 {_MAX_SHARED_STRING_COUNT} 个")
    return None


_SCAN_CHUNK = 2048  # bytes per read of the size scan: the start of a sheet's data is a few hundred bytes in


class _SmallReads:
    """A file whose reads return at most :data:`_SCAN_CHUNK` bytes. ``iterparse`` reads 16 KB before it yields the
    events of any of them, so a scan that stops at the start of the sheet's data (a few hundred bytes in) parsed
    16 KB of rows first: a whole small sheet, parsed twice. Smaller reads stop it within a chunk of the element."""

    def __init__(self, src) -> None:
        self._src = src

    def read(self, n: int = -1) -> bytes:
        return self._src.read(_SCAN_CHUNK if n < 0 else min(n, _SCAN_CHUNK))


def _sheet_size_until_data(self) -> None:
    """openpyxl's ``ReadOnlyWorksheet._get_size``, stopping where the sheet's data starts.

    openpyxl looks for the optional ``<dimension>`` element with *end* events, so for a sheet without one
    (openpyxl's own write-only workbooks, many exporters) the ``</sheetData>`` it stops at is the end of the
    sheet: opening a workbook parsed every row of every sheet before one row was read (12 s for 200,000 rows,
    whatever the row limit). *Start* events find the element, or its absence, before the first row. The result
    is the same: the declared dimensions when there are some, else none. The sheet is read in small chunks
    (:class:`_SmallReads`), so only the chunks up to the element are parsed."""
    from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG  # noqa: PLC0415
    from openpyxl.worksheet.dimensions import SheetDimension  # noqa: PLC0415
    from openpyxl.xml.functions import iterparse  # noqa: PLC0415 (defusedxml's when installed, as openpyxl's)

    src = self._get_source()
    try:
        for _event, element in iterparse(_SmallReads(src), events=("start",)):
            if element.tag == DIMENSION_TAG:
                self._min_column, self._min_row, self._max_column, self._max_row = \
                    SheetDimension.from_tree(element).boundaries
                return
            if element.tag == DATA_TAG:
                return
    finally:
        src.close()


def _open_workbook(data: bytes):
    """openpyxl's read-only workbook of ``data``, without the full parse of dimension-less sheets on opening."""
    import openpyxl  # noqa: PLC0415 (openpyxl uses defusedxml when it is installed)
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet  # noqa: PLC0415

    if ReadOnlyWorksheet._get_size is not _sheet_size_until_data:
        ReadOnlyWorksheet._get_size = _sheet_size_until_data  # same result, bounded work: see its docstring
    return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)


def _sheet_value(cell: dict, ws) -> object:
    """One parsed cell's value as the reader keeps it: formulas as :class:`Formula`, percentages as typed."""
    v = cell["value"]
    if cell["data_type"] == "f":
        return Formula(str(v))
    if type(v).__name__ in ("ArrayFormula", "DataTableFormula"):
        return Formula(str(getattr(v, "text", v)))
    if isinstance(v, (int, float)) and not isinstance(v, bool) and cell["style_id"]:
        from openpyxl.cell.read_only import ReadOnlyCell  # noqa: PLC0415

        if "%" in (ReadOnlyCell(ws, **cell).number_format or ""):
            # Excel stores 12% as 0.12; the user typed 12%, which the number syntax reads as 12
            # for a measure in % (with a warning) and refuses for any other measure
            return _percent_text(v)
    return v


def _read_sheet_rows(ws, table: list[tuple[int, list[object]]], max_rows: int | None) -> FileProblem | None:
    """Append the sheet's non-blank rows to ``table`` as (row number, cells), bounded whatever the sheet declares.

    The rows are read as they are in the file (openpyxl's parser, not its read-only iterator, which fills every
    missing row and cell: a row numbered 999,999,999,999 or a cell in column XFD made it build billions of empty
    rows or 16,384-wide rows): a row's cells are placed by their column, only the first :data:`MAX_COLUMNS`
    columns are kept (a value beyond them is a problem), a cell over :data:`MAX_CELL_CHARS` characters is a problem,
    at most ``max_rows`` non-blank data rows and :data:`MAX_SHEET_ROWS` rows in all (blank formatted rows included)
    are parsed. Returns the problem that stopped the reading, else None."""
    from openpyxl.worksheet._reader import WorkSheetParser  # noqa: PLC0415

    wb = ws.parent
    seen = 0
    with ws._get_source() as src:
        parser = WorkSheetParser(src, ws._shared_strings, data_only=wb.data_only, epoch=wb.epoch,
                                 date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
        for r_idx, row in parser.parse():
            seen += 1
            if seen > MAX_SHEET_ROWS:
                return FileProblem("file.too_many_rows",
                                   f"第一个工作表的行数（含空白的格式行）超过 {MAX_SHEET_ROWS} 行，其余部分未读取；"
                                   f"请删除多余的空白行后重新保存（一份报送每个指标只填写一行）",
                                   value=f"> {MAX_SHEET_ROWS}", expected=f"不超过 {MAX_SHEET_ROWS} 行")
            width = 0
            kept: dict[int, object] = {}
            for cell in row:
                v = cell["value"]
                if is_blank(v) and cell["data_type"] != "f":
                    continue
                col = cell["column"]
                if col > MAX_COLUMNS:
                    return too_wide(col, f"第 {r_idx} 行")
                v = _sheet_value(cell, ws)
                if isinstance(v, (str, Formula)) and len(str(v)) > MAX_CELL_CHARS:
                    return cell_too_long(r_idx, _column_letter(col), len(str(v)))
                kept[col] = v
                width = max(width, col)
            if not kept:
                continue  # blank rows (a template's formatted empty rows) are never data, never kept
            if max_rows is not None and r_idx > 1 and len(table) - (bool(table) and table[0][0] == 1) >= max_rows:
                return too_many_rows(max_rows, r_idx)
            cells: list[object] = [None] * width
            for col, v in kept.items():
                cells[col - 1] = v
            table.append((r_idx, cells))
    return None


def _column_letter(col: int) -> str:
    name = ""
    while col:
        col, rem = divmod(col - 1, 26)
        name = chr(65 + rem) + name
    return name


def read_xlsx_bytes(data: bytes, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
                    max_ratio: float = DEFAULT_MAX_RATIO, max_rows: int | None = None) -> ReadResult:
    """Read the first worksheet of an XLSX submission, streaming; at most ``max_rows`` non-blank data rows are
    parsed (None: no limit). Blank rows (an Excel template's formatted empty rows) neither count nor stay."""
    result = ReadResult(file_format="xlsx")
    if not data:
        result.problems.append(FileProblem("file.empty", "文件是空的（0 字节）", expected="Excel 工作簿 (.xlsx)"))
        return result
    bomb = zip_guard(data, max_uncompressed, max_ratio) or _shared_strings_guard(data)
    if bomb is not None:
        result.problems.append(bomb)
        return result
    try:
        wb = _open_workbook(data)
    except Exception as exc:  # noqa: BLE001 - any failure to parse an untrusted file is a rejection
        result.problems.append(FileProblem("file.unreadable",
                                           f"无法作为 .xlsx 打开（{type(exc).__name__}）；"
                                           f"请在 Excel 中重新保存为 .xlsx 或 CSV",
                                           expected="Excel 工作簿 (.xlsx)"))
        return result
    try:
        sheets = wb.worksheets
        if not sheets:
            result.problems.append(FileProblem("file.empty", "工作簿中没有工作表",
                                               expected="第一个工作表第 1 行为表头"))
            return result
        ws = sheets[0]
        table: list[tuple[int, list[object]]] = []
        try:
            problem = _read_sheet_rows(ws, table, max_rows)
        except Exception as exc:  # noqa: BLE001
            problem = FileProblem("file.unreadable", f"读取第一个工作表时出错（{type(exc).__name__}）；"
                                                     f"请在 Excel 中重新保存为 .xlsx 或 CSV",
                                  expected="Excel 工作簿 (.xlsx)")
        if problem is not None:
            result.problems.append(problem)
            return result  # the rest of the sheet is never parsed (the finally closes the workbook)
    finally:
        wb.close()
    if not table:
        result.problems.append(FileProblem("file.empty", f"第一个工作表「{ws.title}」是空的",
                                           expected="第一个工作表第 1 行为表头"))
        return result
    first_num, first = table[0]
    if first_num != 1:
        first = []  # row 1 is blank: no header in row 1
        body = table
    else:
        body = table[1:]
    result.raw_header = [cell_text(v) for v in first]
    return _header_and_rows(result, body, "第一个工作表只有表头，没有任何数据行")


def _header_and_rows(result: ReadResult, body: list, no_data_message: str) -> ReadResult:
    """Shared tail of CSV and XLSX reading: check the header (``result.raw_header``), then build the rows."""
    result.header = [normalise_column(v) for v in result.raw_header]
    _header_problems(result, body)
    if result.problems:
        return result
    _build_rows(result, body)
    if not result.rows:
        result.problems.append(FileProblem("file.no_data", no_data_message, expected="表头下每行一个指标"))
    return result


# --------------------------------------------------------------------------- entry point


def read_submission(name: str, data: bytes | None, size: int, max_bytes: int = DEFAULT_MAX_BYTES,
                    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED, max_ratio: float = DEFAULT_MAX_RATIO,
                    max_rows: int | None = None, defer: bool = False) -> ReadResult:
    """Read one submission. ``name`` only decides the format by its extension (and a temporary name of an
    upload tool or of Excel is never read); ``data`` may be None when the file is over the size limit (it is
    then never read); ``max_rows``: non-blank data rows parsed at most (None: no limit). ``defer``: a CSV that
    passes :func:`pending_csv` is returned *pending* (``pending`` set, nothing parsed) for the year's batch."""
    temporary = temporary_name(name)
    if temporary:
        return ReadResult(file_format=file_format(name), problems=[FileProblem(
            "file.temporary_name",
            f"文件名是{temporary}，不是一份完成的报送，未读取；请只放入保存完成的 .csv 或 .xlsx 文件",
            value=name[:200], expected="保存完成的 .csv 或 .xlsx 文件")])
    fmt = file_format(name)
    if fmt is None:
        ext = PurePath(name).suffix or "（无扩展名）"
        hint = "；.xls 请在 Excel 中另存为 .xlsx" if ext.lower() in (".xls", ".et", ".xlsm", ".xlsb") else ""
        return ReadResult(problems=[FileProblem("file.not_csv_xlsx",
                                                f"文件类型 {ext} 不受支持，只接受 .csv 和 .xlsx{hint}",
                                                value=ext, expected=".csv 或 .xlsx")])
    if size > max_bytes:
        return ReadResult(file_format=fmt, problems=[FileProblem(
            "file.too_large", f"文件大小 {size} 字节超过上限 {max_bytes} 字节；一个园区一年的报送通常只有几十行",
            value=str(size), expected=f"不超过 {max_bytes} 字节")])
    assert data is not None
    if fmt == "csv":
        pending = pending_csv(data, max_rows) if defer else None
        if pending is not None:
            return ReadResult(file_format="csv", encoding=pending.encoding, pending=pending)
        return read_csv_bytes(data, max_rows)
    return read_xlsx_bytes(data, max_uncompressed, max_ratio, max_rows)
