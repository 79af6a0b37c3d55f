"""Ingestion of one data year's inbox (docs/contract/02-inputs.md §2.1), one module per concept:

- :mod:`~etdz.ingestion.archive` — receiving and archiving: hashing, the content-addressed archive (local as one
  durable batch, or object storage);
- :mod:`~etdz.ingestion.opening` — safe opening: an inbox entry opened as it is now (no link followed, no
  blocking, a vanished or changed file rejected), hashed and archived first, then read;
- :mod:`etdz.reading` — reading: strict decoding, CSV/XLSX with guards (with :mod:`etdz.numbers`);
- :mod:`~etdz.ingestion.deciding` — deciding: rejected / accepted / superseded, the ``measures`` table;
- :mod:`~etdz.ingestion.year` — one data year end to end (:func:`ingest_year`, :class:`YearIngest`);
- :mod:`~etdz.ingestion.validate_report` — the ``etdz validate`` report (:func:`validate_files`).

Validation itself is :mod:`etdz.validation`.
"""

from etdz.ingestion.archive import archive_bytes, archive_url, archiving
from etdz.ingestion.deciding import build_measures, decide
from etdz.ingestion.opening import list_inbox, load_file
from etdz.ingestion.validate_report import validate_files
from etdz.ingestion.year import YearIngest, ingest_year

__all__ = ["YearIngest", "ingest_year", "validate_files", "archive_bytes", "archive_url", "archiving", "decide",
           "build_measures", "list_inbox", "load_file"]
