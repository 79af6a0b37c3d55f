"""The UI's column schemas: one conversion (assets/metadata.table_schema) on the definitions and on each write."""

from __future__ import annotations

from dagster import AssetSpec, multi_asset

from assets.metadata import dataset_metadata, table_schema
from etdz import schemas
from pipelines.columns import with_column_schemas


def test_the_definitions_and_a_materialisation_show_the_same_columns():
    @multi_asset(specs=[AssetSpec("rankings"), AssetSpec("not_a_dataset")])
    def two():
        pass

    (described,) = with_column_schemas([two], top_lists=["trade_total"])
    by_key = {s.key.to_user_string(): s for s in described.specs}
    schema = schemas.schema_for("rankings", ["trade_total"])
    shown = by_key["rankings"].metadata["dagster/column_schema"]
    assert shown == table_schema(schema)
    assert "dagster/column_schema" not in by_key["not_a_dataset"].metadata
    written = dataset_metadata(schema.empty_table(), "/w/rankings/data_year=2022/part-0.parquet")
    assert written["dagster/column_schema"] == shown
    # Dagster's standard keys: one materialization is one data year's partition, and where its file is
    assert written["dagster/partition_row_count"].value == 0 and "dagster/row_count" not in written
    assert written["dagster/uri"].value == "/w/rankings/data_year=2022/part-0.parquet"
    on_s3 = dataset_metadata(schema.empty_table(), "s3://bucket/w/rankings/data_year=2022/part-0.parquet")
    assert on_s3["dagster/uri"].value == "s3://bucket/w/rankings/data_year=2022/part-0.parquet"
    col = next(c for c in shown.columns if c.name == "national_rank")
    assert col.type == str(schema.field("national_rank").type) and col.description == schemas.describe(
        schema.field("national_rank"))
