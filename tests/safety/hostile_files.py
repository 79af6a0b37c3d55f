"""Small hostile submission files, generated (never committed as blobs): each declares or holds far more than a
submission ever does. Used by test_bounded_work.py; every generator returns the file's bytes."""

from __future__ import annotations

import io
import zipfile

HEADER = ("zone_code", "data_year", "measure_code", "value", "unit")
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '{shared}</Types>')
_SHARED_TYPE = ('<Override PartName="/xl/sharedStrings.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                  'worksheet" Target="worksheets/sheet1.xml"/>{shared}</Relationships>')
_SHARED_REL = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
               'sharedStrings" Target="sharedStrings.xml"/>')
_SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_TAIL = "</sheetData></worksheet>"


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _row(r: int, values: list[str]) -> str:
    return f'<row r="{r}">' + "".join(_cell(f"{_col(i + 1)}{r}", v) for i, v in enumerate(values)) + "</row>"


def xlsx(sheet_rows: str | list[str], shared: str | None = None) -> bytes:
    """An XLSX whose first sheet's ``<sheetData>`` holds ``sheet_rows`` (XML text, or chunks of it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES.format(shared=_SHARED_TYPE if shared else ""))
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(shared=_SHARED_REL if shared else ""))
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(_SHEET_HEAD.encode())
            for chunk in [sheet_rows] if isinstance(sheet_rows, str) else sheet_rows:
                fh.write(chunk.encode())
            fh.write(_SHEET_TAIL.encode())
        if shared:
            zf.writestr("xl/sharedStrings.xml", shared)
    return buf.getvalue()


def _good_rows() -> str:
    return _row(1, list(HEADER)) + _row(2, ["E1", "2021", "gdp", "12.5", "亿元"])


def far_row() -> bytes:
    """A few KB declaring row 999,999,999,999 (a reader that fills the gap never ends)."""
    return xlsx(_good_rows() + _row(999_999_999_999, ["E1", "2021", "gdp", "1", "亿元"]))


def blank_rows_far_column(rows: int = 200_000) -> bytes:
    """``rows`` rows holding only an empty, styled cell in column XFD (16,384), after a good submission."""
    def chunks():
        yield _good_rows()
        block = []
        for r in range(3, rows + 3):
            block.append(f'<row r="{r}"><c r="XFD{r}" s="1"/></row>')
            if len(block) == 10_000:
                yield "".join(block)
                block = []
        yield "".join(block)
    return xlsx(list(chunks()))


def far_column_value() -> bytes:
    """A good submission with one value in column XFD."""
    return xlsx(_good_rows() + f'<row r="3"><c r="A3" t="inlineStr"><is><t>E1</t></is></c>{_cell("XFD3", "x")}</row>')


def shared_strings_bomb(strings: int = 4_000_000) -> bytes:
    """A sheet referring to string 0 of a shared-strings table of ``strings`` entries (~25:1 compressed)."""
    body = "".join(f"<si><t>{i:07d}</t></si>" for i in range(strings))
    shared = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/'
              f'spreadsheetml/2006/main" count="{strings}" uniqueCount="{strings}">{body}</sst>')
    sheet = ('<row r="1">' + "".join(f'<c r="{_col(i + 1)}1" t="s"><v>0</v></c>' for i in range(5)) + "</row>")
    return xlsx(sheet, shared)


def wide_csv_header(columns: int = 1_000_000) -> bytes:
    """A CSV whose header has ``columns`` extra columns (about 7 MB)."""
    extra = ",".join(f"c{i}" for i in range(columns))
    return (",".join(HEADER) + "," + extra + "\nE1,2021,gdp,12.5,亿元\n").encode()


def huge_cell_csv(size: int = 19 * 2**20) -> bytes:
    """A CSV one of whose cells holds ``size`` characters."""
    return (",".join(HEADER) + ",note\nE1,2021,gdp,12.5,亿元," + "A" * size + "\n").encode()


def huge_value_csv(size: int = 19 * 2**20) -> bytes:
    """A CSV whose ``value`` cell holds ``size`` characters (the issue quotes the value)."""
    return (",".join(HEADER) + "\nE1,2021,gdp," + "9" * size + ",亿元\n").encode()
