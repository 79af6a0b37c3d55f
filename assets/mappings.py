"""The assets' dependencies across data years (partition mappings over the yearly partitions of
pipelines/partitions.py): the years before the first partition simply do not exist."""

from __future__ import annotations

from dagster import TimeWindowPartitionMapping


def previous_years(n: int) -> TimeWindowPartitionMapping:
    """Year Y depends on Y−n … Y (n ≥ 1); years before the first partition simply do not exist."""
    return TimeWindowPartitionMapping(start_offset=-n, end_offset=0, allow_nonexistent_upstream_partitions=True)


def earlier_years(n: int) -> TimeWindowPartitionMapping:
    """Year Y depends on Y−n … Y−1 (a self-dependency on earlier years of the same asset)."""
    return TimeWindowPartitionMapping(start_offset=-n, end_offset=-1, allow_nonexistent_upstream_partitions=True)
