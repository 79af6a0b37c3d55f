"""Where outputs are: the warehouse's Hive layout and whether a location is on the local filesystem.

The layout (docs/contract/04-outputs.md §4.1) is ``<root>/<dataset>/data_year=<Y>/part-0.parquet``; the
per-year folders beside the datasets (``_published``, ``_commits``) and the year locks use the same
``data_year=<Y>`` name. A location is a path or a URL; ``file://`` URLs and plain paths are local, anything
else with a scheme (``s3://``, ``memory://``) is an object store.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Where `etdz ui` serves the local reports on its own address (pipelines/ui_front.py), and the prefix of
#: their links in the UI (assets/metadata.py): relative, so a link works whatever host and port the UI is on.
REPORTS_ROUTE = "/etdz-reports/"

#: the one file of a dataset's year
PART = "part-0.parquet"
_YEAR_FOLDER = re.compile(r"data_year=(\d+)")


def year_folder(data_year: int) -> str:
    """The folder name of a data year: ``data_year=2022``."""
    return f"data_year={int(data_year)}"


def year_of_folder(name: str) -> int | None:
    """The data year a folder name holds (``data_year=2022`` → 2022), None for any other name."""
    m = _YEAR_FOLDER.fullmatch(name)
    return int(m.group(1)) if m else None


def dataset_file(base: str, dataset: str, data_year: int) -> str:
    """The path or URL of one year's file of a dataset under the warehouse ``base``."""
    return f"{base.rstrip('/')}/{dataset}/{year_folder(data_year)}/{PART}"


def is_dataset_file(relative: str, data_year: int) -> bool:
    """Whether ``relative`` (a path below the warehouse, ``/``-separated) is a file in a dataset's folder of
    ``data_year``: ``<dataset>/data_year=<Y>/<file>``, datasets never starting with ``_`` or ``.``."""
    parts = relative.split("/")
    return len(parts) == 3 and not parts[0].startswith(("_", ".")) and parts[1] == year_folder(data_year)


def is_local(location: str) -> bool:
    """A plain path or a ``file://`` URL (not an object store)."""
    return "://" not in location or location.startswith("file://")


def local_path(location: str) -> Path | None:
    """The local Path of ``location``, None for an object store."""
    return Path(location.removeprefix("file://")) if is_local(location) else None
