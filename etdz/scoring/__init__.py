"""The scoring and ranking engine of docs/contract/03-scoring.md (pure pandas/numpy; no Dagster)."""

from etdz.scoring.year import ScoredYear, YearInputs, score_year

__all__ = ["ScoredYear", "YearInputs", "score_year"]
