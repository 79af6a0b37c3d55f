"""What the scoring of a year reads from the warehouse, assembled into :class:`~etdz.scoring.year.YearInputs`."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.history import Submissions, ranking_history
from etdz.scoring.downgrade import history_years
from etdz.scoring.year import YearInputs
from etdz.storage import Warehouse
from etdz.submission_log import accepted_zones


def load_year_inputs(store: Warehouse, data_year: int, catalogue: Catalogue, registry: pd.DataFrame,
                     previous: Callable[[], Submissions]) -> YearInputs:
    """Y's accepted submissions (``submission_log``, ``measures``), Y−1's and the rankings of the earlier
    years the downgrade window and the previous rank need.

    ``previous`` reads Y−1's submissions (from the warehouse, else its inbox folder); it is called only
    once Y's own are known to exist, since reading an inbox folder is the slow part.

    Raises RuntimeError naming the warehouse and what to run when Y was never ingested.
    """
    log = store.read("submission_log", data_year)
    measures = store.read("measures", data_year)
    if log is None or measures is None:
        raise RuntimeError(f"data year {data_year} has no ingested submissions in {store.root}: "
                           f"materialise the `submissions` asset for {data_year} first "
                           f"(etdz run --data-year {data_year})")
    log_df = log.to_pandas()
    prev = previous()
    return YearInputs(
        data_year=data_year, catalogue=catalogue, registry=registry, measures=measures.to_pandas(),
        accepted=accepted_zones(log_df),
        prev_measures=prev.measures, prev_accepted=prev.zones,
        history=ranking_history(store, history_years(data_year, catalogue.downgrade)),
    )
