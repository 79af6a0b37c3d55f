"""Metadata shown in the Dagster UI: table schemas, row counts, previews, links."""

from __future__ import annotations

from urllib.parse import quote

import pyarrow as pa
from dagster import MetadataValue, TableColumn, TableSchema

from etdz import schemas
from etdz.locations import REPORTS_ROUTE, is_local, local_path


def table_schema(schema: pa.Schema) -> TableSchema:
    """A table's columns with their types and descriptions (etdz.schemas field metadata) for the UI: on the
    asset definitions before anything is materialised (pipelines/columns.py) and on each materialisation."""
    return TableSchema(columns=[TableColumn(f.name, str(f.type), description=schemas.describe(f) or None)
                                for f in schema])


def dataset_metadata(table: pa.Table, url: str, extra: dict | None = None) -> dict:
    """Row count, schema and location of one year's written Parquet file, under Dagster's standard keys
    (``dagster/partition_row_count``: each materialization is one data year; ``dagster/uri``: where the file is,
    a local path or an object-store URL), which the UI shows in the asset's overview and plots per partition."""
    path = local_path(url)
    meta = {
        "dagster/partition_row_count": MetadataValue.int(table.num_rows),
        "dagster/column_schema": table_schema(table.schema),
        "dagster/uri": MetadataValue.text(str(path) if path else url),
    }
    meta.update(extra or {})
    return meta


def table_version(table: pa.Table) -> str:
    """A content hash of a table, used as the Dagster data version: an identical re-run keeps the
    version, so assets downstream of it do not turn stale for nothing."""
    import hashlib

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


def report_location(resource, year: int, name: str) -> MetadataValue:
    """A report's link for the UI. Local reports: a link relative to the UI (``/etdz-reports/Y/name``, served by
    `etdz ui`'s front layer), so a run from the command line records a link that opens whatever host and port
    the UI is on (an absolute ``http://host:port`` breaks when the UI moves). Reports on an object store: under
    ``report_links_url`` when set, else the object-store URL."""
    if is_local(resource.settings.reports):
        return MetadataValue.url(f"{REPORTS_ROUTE}{int(year)}/{quote(name)}")
    if resource.settings.report_links_url:
        return MetadataValue.url(f"{resource.settings.report_links_url}/{int(year)}/{name}")
    return MetadataValue.url(f"{resource.reports_url(year)}/{name}")
