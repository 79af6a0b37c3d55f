"""The Parquet warehouse: Hive-partitioned datasets, atomic writes, local or object storage.

Layout (docs/contract/04-outputs.md §4.1): ``<root>/<dataset>/data_year=<Y>/part-0.parquet``. Local
writes go through :func:`etdz.commit.atomic_write` (a temporary ``_``-prefixed file in the same
folder, renamed into place); object stores (``s3://``) publish an object in one PUT, which is
atomic too. Inside a step (``EtdzResource.writing``) every write joins the step's commit, so a
step's datasets change together or not at all (etdz/commit.py). Readers therefore never see half a
file, and a run that dies leaves the previous version in place.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from etdz.commit import atomic_write, commit_for, replace_file
from etdz.errors import DamagedFileError, storage_error
from etdz.locations import PART, dataset_file, is_local, year_of_folder


def _fs(url: str):
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


class Warehouse:
    """One warehouse root (a local folder or an fsspec URL such as ``s3://bucket/prefix``)."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.fs, self.base = _fs(self.root)
        self.local = is_local(self.root)

    def path(self, dataset: str, data_year: int) -> str:
        """The path (inside the filesystem) of one year's file of a dataset."""
        return dataset_file(self.base, dataset, data_year)

    def url(self, dataset: str, data_year: int) -> str:
        """The user-facing location of one year's file (for metadata and messages)."""
        return dataset_file(self.root, dataset, data_year)

    def exists(self, dataset: str, data_year: int) -> bool:
        return self.fs.exists(self.path(dataset, data_year))

    def write(self, dataset: str, data_year: int, table: pa.Table) -> str:
        """Write one year's table atomically, replacing the previous version; returns its URL."""
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        data = buf.getvalue()
        if self.local:
            atomic_write(self.path(dataset, data_year), data)
            return self.url(dataset, data_year)
        url = self.url(dataset, data_year)
        commit = commit_for(url)
        if commit is not None:
            commit.stage_object(url, data)
        else:
            self.fs.pipe_file(self.path(dataset, data_year), data)
        return url

    def _location(self, dataset: str, data_year: int) -> str:
        """What a step commit knows the file by: the local path, or the URL of an object."""
        return self.path(dataset, data_year) if self.local else self.url(dataset, data_year)

    def read(self, dataset: str, data_year: int) -> pa.Table | None:
        """One year's table, or None when that year was never written.

        Inside a step commit, what the step itself staged is read (a step reads its own writes). A file
        that exists but cannot be read as Parquet raises :class:`DamagedFileError` naming it and the
        command that rebuilds it; the file is never rewritten here.
        """
        path = self.path(dataset, data_year)
        commit = commit_for(self._location(dataset, data_year))
        staged = commit.staged_location(self._location(dataset, data_year)) if commit else None
        if staged is not None:
            path = staged if self.local else fsspec.core.url_to_fs(staged)[1]
        try:
            if not self.fs.exists(path):
                return None
            with self.fs.open(path, "rb") as fh:
                return pq.read_table(fh)
        except (pa.ArrowException, EOFError) as exc:
            raise DamagedFileError(
                f"{self.url(dataset, data_year)} is damaged and cannot be read ({str(exc).strip()[:200]}). Nothing "
                f"was changed. Rebuild that year from its inbox with: etdz run --data-year {int(data_year)} "
                f"(or restore the file from a backup), then run the command again.") from exc
        except OSError as exc:
            raise storage_error(exc, self.url(dataset, data_year), "reading") from exc

    def read_replaced(self, dataset: str, data_year: int) -> pa.Table | None:
        """The year's file of a dataset that the caller's run is about to rebuild, read for comparison only (the
        guard, the changes since the last run): a damaged one counts as absent (a warning says so), so that the run
        a :class:`DamagedFileError` names as the rebuild (``etdz run --data-year Y``) can run."""
        try:
            return self.read(dataset, data_year)
        except DamagedFileError as exc:
            logging.getLogger("etdz").warning("%s This run rebuilds it.", exc)
            return None

    def years(self, dataset: str) -> list[int]:
        """Data years for which the dataset has a file."""
        folder = f"{self.base}/{dataset}"
        if not self.fs.exists(folder):
            return []
        out = []
        for entry in self.fs.ls(folder, detail=False):
            name = entry.rstrip("/").rsplit("/", 1)[-1]
            year = year_of_folder(name)
            if year is not None and self.fs.exists(f"{entry.rstrip('/')}/{PART}"):
                out.append(year)
        return sorted(out)

    def dataset(self, dataset: str) -> pads.Dataset:
        """The whole dataset across years, ``data_year`` from the path (for analysts and tests)."""
        return pads.dataset(f"{self.base}/{dataset}", filesystem=self.fs, format="parquet", partitioning="hive",
                            ignore_prefixes=["_", "."])


_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml",
    ".png": "image/png", ".csv": "text/csv; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf", ".parquet": "application/vnd.apache.parquet",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# An S3 PUT takes up to 5 GiB; s3fs switches to a multipart upload above 2 × chunksize.
_ONE_PUT = 5 * 2**30


def publish_folder(local_dir: Path, url: str, *, delete_stale: bool = False) -> None:
    """Copy the tree under ``local_dir`` to the fsspec URL ``url`` (e.g. ``s3://bucket/reports/2021``).

    ``local_dir/a/b.html`` becomes ``<url>/a/b.html``. Each file is uploaded as one object in a single
    PUT (atomic: a reader sees the old object or the new one, never part of one), with a
    ``Content-Type`` so HTML reports open in a browser straight from the bucket. Files whose name
    starts with ``_`` or ``.`` (temporary files) are skipped. With ``delete_stale=True``, objects under
    ``url`` that have no local counterpart any more are removed afterwards (a mirror); by default
    nothing is deleted. A local ``url`` works too (files are replaced atomically).
    """
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        raise NotADirectoryError(f"publish_folder: {local_dir} is not a folder")
    fs, base = _fs(url.rstrip("/"))
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    local = is_local(url)
    published: set[str] = set()
    for src in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        rel = src.relative_to(local_dir)
        if any(part.startswith(("_", ".")) for part in rel.parts):
            continue
        dest = f"{base}/{rel.as_posix()}"
        published.add(dest)
        data = src.read_bytes()
        if local:
            replace_file(dest, data)
        elif "s3" in protocols or "s3a" in protocols:
            kwargs = {"ContentType": _CONTENT_TYPES[src.suffix.lower()]} if src.suffix.lower() in _CONTENT_TYPES else {}
            fs.pipe_file(dest, data, chunksize=_ONE_PUT, **kwargs)
        else:
            fs.pipe_file(dest, data)
    if delete_stale and fs.exists(base):
        stale = [p for p in fs.find(base) if p not in published
                 and not any(part.startswith(("_", ".")) for part in p[len(base):].split("/"))]
        if stale:
            fs.rm(stale)
    fs.invalidate_cache(base)
