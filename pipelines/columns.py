"""Every dataset's columns described in the UI, from the one place that declares them: :mod:`etdz.schemas`."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetsDefinition, AssetSpec, map_asset_specs

from assets.metadata import table_schema
from etdz import schemas


def with_column_schemas(assets: Iterable[AssetsDefinition], top_lists: Iterable[str]) -> list[AssetsDefinition]:
    """The assets, each dataset's spec carrying ``dagster/column_schema`` (shown before anything is materialised)."""
    top_lists = sorted(set(top_lists))

    def describe(spec: AssetSpec) -> AssetSpec:
        name = spec.key.to_user_string()
        if name not in schemas.DATASETS:
            return spec
        return spec.merge_attributes(
            metadata={"dagster/column_schema": table_schema(schemas.schema_for(name, top_lists))})

    return map_asset_specs(describe, list(assets))
