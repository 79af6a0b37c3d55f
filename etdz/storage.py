"""The Parquet warehouse: Hive-partitioned datasets, atomic writes, local or object storage.

Layout (04-outputs.md §4.1): ``<root>/<dataset>/data_year=<Y>/part-0.parquet``. Local
writes go to a temporary ``_``-prefixed file in the same folder and are renamed into
place (atomic on POSIX); object stores (``s3://``) publish an object in one PUT, which
is atomic too. Readers therefore never see half a file, and a run that dies leaves
the previous version in place.
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

PART = "part-0.parquet"


def _fs(url: str):
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


class Warehouse:
    """One warehouse root (a local folder or an fsspec URL such as ``s3://bucket/prefix``)."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.fs, self.base = _fs(self.root)
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.local = "file" in protocols

    def path(self, dataset: str, data_year: int) -> str:
        """The path (inside the filesystem) of one year's file of a dataset."""
        return f"{self.base}/{dataset}/data_year={int(data_year)}/{PART}"

    def url(self, dataset: str, data_year: int) -> str:
        """The user-facing location of one year's file (for metadata and messages)."""
        return f"{self.root}/{dataset}/data_year={int(data_year)}/{PART}"

    def exists(self, dataset: str, data_year: int) -> bool:
        return self.fs.exists(self.path(dataset, data_year))

    def write(self, dataset: str, data_year: int, table: pa.Table) -> str:
        """Write one year's table atomically, replacing the previous version; returns its URL."""
        final = self.path(dataset, data_year)
        folder = final.rsplit("/", 1)[0]
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        data = buf.getvalue()
        if self.local:
            os.makedirs(folder, exist_ok=True)
            tmp = f"{folder}/_{PART}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        else:
            self.fs.pipe_file(final, data)
        return self.url(dataset, data_year)

    def read(self, dataset: str, data_year: int) -> pa.Table | None:
        """One year's table, or None when that year was never written."""
        path = self.path(dataset, data_year)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as fh:
            return pq.read_table(fh)

    def years(self, dataset: str) -> list[int]:
        """Data years for which the dataset has a file."""
        folder = f"{self.base}/{dataset}"
        if not self.fs.exists(folder):
            return []
        out = []
        for entry in self.fs.ls(folder, detail=False):
            name = entry.rstrip("/").rsplit("/", 1)[-1]
            if name.startswith("data_year=") and self.fs.exists(f"{entry.rstrip('/')}/{PART}"):
                out.append(int(name.split("=", 1)[1]))
        return sorted(out)

    def dataset(self, dataset: str) -> pads.Dataset:
        """The whole dataset across years, ``data_year`` from the path (for analysts and tests)."""
        return pads.dataset(f"{self.base}/{dataset}", filesystem=self.fs, format="parquet", partitioning="hive",
                            ignore_prefixes=["_", "."])


def local_path(url: str) -> Path | None:
    """A Path when ``url`` is on the local filesystem, else None."""
    return None if "://" in url and not url.startswith("file://") else Path(url.removeprefix("file://"))
