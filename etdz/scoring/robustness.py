"""Step 9 — rank robustness (docs/contract/03-scoring.md §3.9): how firm each rank is under the unpublished choices.

The cohort is re-scored under N sampled variants of the method, as the JRC's statistical audits of
composite indices do. Exactly as §3.9 says, so anyone can re-derive it:

1. the score variants — every ``winsorise`` option × ``no_base`` option, each a zones × indicators
   matrix computed by the nominal scoring's own steps (:func:`etdz.scoring.scores.score_matrix`);
2. the draws, in this order from ``numpy.random.default_rng(seed)``: indicator factors (N × I),
   category factors (N × K), the winsorise option, the no_base option of each sample;
3. the samples, as matrix products over blocks of samples that share a variant (the aggregation of
   :mod:`etdz.scoring.aggregate`), competition ranks on totals rounded to 6 decimals;
4. per zone, quantiles of its national ranks (inverted CDF), the share in the top 100 and in its
   region's bottom n (and, for the national-bottom rule's sentence, in the national bottom n);
5. per zone, the share of samples in which it would enter Y's downgrade watch-list (``p_candidate``): the
   earlier years of the window as on record (the warehouse's ``rankings``), only year Y the sample's, by
   the watch-list's own rule (:func:`etdz.scoring.downgrade.enters_watchlist`).

Blocks of samples are sized so that 23,000 zones × 1,000 samples stays well under 1.5 GB: only the
national ranks (samples × zones, int32) are kept whole, for the quantiles.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue, Downgrade, Robustness
from etdz.history import ranking_history
from etdz.memory import release_memory
from etdz.processes import cores
from etdz.scoring.aggregate import category_scores, category_weights, indicator_weights, total_score
from etdz.scoring.downgrade import earlier_bottom_counts, enters_watchlist, in_bottom, window_years
from etdz.scoring.ranks import DECIMALS, competition_ranks, in_top100
from etdz.scoring.scores import score_matrix
from etdz.storage import Warehouse

# the schema's order (etdz.schemas.RANK_ROBUSTNESS): columns added later are appended, nullable (04 §4.1)
COLUMNS = ["zone_code", "rank_nominal", "rank_median", "rank_p05", "rank_p95", "p_top100", "p_region_bottom",
           "samples", "seed", "method_version", "p_candidate", "p_national_bottom"]
QUANTILES = [0.5, 0.05, 0.95]  # median, p05, p95, in §3.9's order
# The totals of one block of samples (zones × samples, float64) take at most this much; the block's other
# arrays (one category's scores, rounded totals, sort order, ranks) are of the same size, a few at a time.
# At 23,000 zones a block holds 364 samples and the whole analysis peaks at ~400 MB (bench_robustness.py).
BLOCK_BYTES = 64 * 2**20


@dataclass
class RobustnessInputs:
    """What §3.9 reads for one data year: the cohort's indicator values and statuses, regions, nominal ranks."""

    data_year: int
    catalogue: Catalogue
    zones: pd.DataFrame  # zone_code, region, national_rank (§3.4), one row per cohort zone
    values: np.ndarray  # zones × indicators (catalogue order), v(z,i) of §3.1
    status: np.ndarray  # zones × indicators, ok / missing / no_base
    # rankings of the downgrade window's earlier years on record (data year -> zone_code, region,
    # national_rank, regional_rank): step 5 counts them as published, never re-sampled
    history: dict[int, pd.DataFrame] = field(default_factory=dict)


@dataclass
class SampleCounts:
    """What step 3 keeps of every sample besides its national ranks: per zone, in how many samples it is in
    its region's bottom n, in the national bottom n, and would enter the watch-list (None without a
    downgrade section)."""

    region_bottom: np.ndarray | None
    national_bottom: np.ndarray | None
    candidate: np.ndarray | None


@dataclass
class Draws:
    """The random draws of §3.9 step 2, in the order they are made."""

    indicator_factors: np.ndarray  # f, samples × indicators
    category_factors: np.ndarray  # g, samples × categories
    winsorise_choice: np.ndarray  # a, samples
    no_base_choice: np.ndarray  # b, samples


def robustness_inputs(data_year: int, catalogue: Catalogue, indicator_scores: pd.DataFrame,
                      rankings: pd.DataFrame, history: dict[int, pd.DataFrame] | None = None) -> RobustnessInputs:
    """Assemble the inputs from the year's ``indicator_scores`` and ``rankings`` datasets; ``history``: the
    rankings on record of the downgrade window's earlier years (none: no earlier year counts).

    Refuses (ValueError naming the dataset and what to do) scores written under another method version.
    """
    codes = [i.code for i in catalogue.indicators]
    versions = set(indicator_scores["method_version"].dropna()) | set(rankings["method_version"].dropna())
    found = set(indicator_scores["indicator_code"])
    if versions - {catalogue.version} or (len(indicator_scores) and found != set(codes)):
        raise ValueError(
            f"the indicator_scores / rankings of data year {data_year} were written under method version(s) "
            f"{sorted(versions)} with indicators that differ from catalogue {catalogue.version} ({catalogue.path}): "
            f"re-run the scoring of {data_year} (etdz run --data-year {data_year}) before its rank robustness")
    zones = (rankings[["zone_code", "region", "national_rank"]].sort_values("zone_code", kind="stable")
             .reset_index(drop=True))
    zones["national_rank"] = zones["national_rank"].astype("int64")
    wide = indicator_scores.pivot(index="zone_code", columns="indicator_code", values=["value", "status"])
    values = wide["value"].reindex(index=zones.zone_code, columns=codes).to_numpy(dtype="float64")
    status = wide["status"].reindex(index=zones.zone_code, columns=codes).to_numpy(dtype=object)
    if len(zones) and pd.isna(status).any():
        raise ValueError(f"indicator_scores of data year {data_year} lack rows for some zones of its rankings: "
                         f"re-run the scoring of {data_year} (etdz run --data-year {data_year})")
    return RobustnessInputs(data_year, catalogue, zones, values, status, dict(history or {}))


def load_robustness_inputs(store: Warehouse, data_year: int, catalogue: Catalogue) -> RobustnessInputs:
    """Read the year's ``indicator_scores`` and ``rankings`` from the warehouse (both must exist), and the
    rankings on record of the downgrade window's earlier years (§3.9 step 5: "a year on record is one whose
    ``rankings`` exist in the warehouse")."""
    tables = {name: store.read(name, data_year) for name in ("indicator_scores", "rankings")}
    absent = [name for name, t in tables.items() if t is None]
    if absent:
        raise RuntimeError(f"data year {data_year} has no {' / '.join(absent)} in {store.root}: materialise the "
                           f"`scores` asset for {data_year} first (etdz run --data-year {data_year})")
    scores = tables["indicator_scores"].select(["zone_code", "indicator_code", "value", "status", "method_version"])
    rankings = tables["rankings"].select(["zone_code", "region", "national_rank", "method_version"])
    d = catalogue.downgrade
    history = ranking_history(store, window_years(data_year, d)[:-1]) if d is not None else {}
    return robustness_inputs(data_year, catalogue, scores.to_pandas(), rankings.to_pandas(), history)


def score_variants(values: np.ndarray, status: np.ndarray, catalogue: Catalogue, settings: Robustness) -> np.ndarray:
    """§3.9 step 1: indicator scores under every (winsorise option, no_base option).

    Returns an array (winsorise options, no_base options, zones, indicators), each variant computed by
    the nominal scoring's steps (:func:`etdz.scoring.scores.score_matrix`) with that option.
    """
    shape = (len(settings.winsorise_options), len(settings.no_base_options)) + values.shape
    out = np.empty(shape, dtype="float64")
    for a, winsorise in enumerate(settings.winsorise_options):
        for b, no_base in enumerate(settings.no_base_options):
            out[a, b] = score_matrix(values, status, catalogue, winsorise, no_base)[0]
    return out


def draw(settings: Robustness, seed: int, n_indicators: int, n_categories: int) -> Draws:
    """§3.9 step 2: the draws, in the contract's order — f, g, a, b — each made even when its spread is 0
    or it has one option, so the stream stays aligned (``category_weights: 0`` leaves f, a and b as they were)."""
    rng = np.random.default_rng(seed)
    p, c, n = settings.weights, settings.category_spread, settings.samples
    f = rng.uniform(1 - p, 1 + p, size=(n, n_indicators))
    g = rng.uniform(1 - c, 1 + c, size=(n, n_categories))
    a = rng.integers(0, len(settings.winsorise_options), size=n)
    b = rng.integers(0, len(settings.no_base_options), size=n)
    return Draws(f, g, a, b)


def sample_ranks(variants: np.ndarray, draws: Draws, catalogue: Catalogue, region: np.ndarray,
                 downgrade: Downgrade | None, earlier: np.ndarray | None = None,
                 block_bytes: int = BLOCK_BYTES) -> tuple[np.ndarray, SampleCounts]:
    """§3.9 step 3: every sample's national ranks (samples × zones, int32) and, with a downgrade section,
    the per-zone counts of :class:`SampleCounts` (``earlier``: each zone's bottom-n years on record earlier
    in the window, step 5).

    Samples sharing a score variant are scored together, as many per matrix product as ``block_bytes`` allows.
    """
    n_samples, n_zones = len(draws.winsorise_choice), variants.shape[2]
    w = indicator_weights(catalogue) * draws.indicator_factors  # w_i f[n,i]
    wg = category_weights(catalogue) * draws.category_factors
    cw = wg / wg.sum(axis=1, keepdims=True)  # W_k g[n,k] / Σ_j W_j g[n,j]
    ranks = np.empty((n_samples, n_zones), dtype="int32")
    d = downgrade
    zeros = (lambda: np.zeros(n_zones, dtype="int64")) if d is not None else (lambda: None)
    counts = SampleCounts(zeros(), zeros(), zeros())
    earlier = np.zeros(n_zones, dtype="int64") if earlier is None else earlier
    groups = [np.flatnonzero(region == r) for r in np.unique(region)]
    threads = max(1, cores())
    # block_bytes is the budget of all the blocks in flight, one per thread
    block = max(1, block_bytes // threads // (8 * max(n_zones, 1)))
    variant_of = draws.winsorise_choice * variants.shape[1] + draws.no_base_choice

    def one_block(v: int, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...] | None]:
        """The samples ``idx`` (all of variant ``v``): (idx, their national ranks, their counts summed)."""
        scores = variants[v // variants.shape[1], v % variants.shape[1]]
        totals = total_score(category_scores(scores, catalogue, w[idx]), cw[idx])  # zones × samples
        rounded = np.round(np.ascontiguousarray(totals.T), DECIMALS)  # samples × zones
        del totals
        national_ranks = competition_ranks(rounded)
        if d is None:
            return idx, national_ranks, None
        regional = np.zeros(rounded.shape, dtype=bool)  # samples × zones: in its region's bottom n
        for members_r in groups:
            regional[:, members_r] = in_bottom(competition_ranks(rounded[:, members_r]), len(members_r), d.bottom_n)
        national = in_bottom(national_ranks, n_zones, d.bottom_n)
        bottom_now = regional if d.rule == "regional_bottom" else national
        return idx, national_ranks, (regional.sum(axis=0), national.sum(axis=0),
                                     enters_watchlist(earlier, bottom_now.astype("int64"), d).sum(axis=0))

    blocks = [(v, members[start:start + block]) for v in np.unique(variant_of).tolist()
              for members in [np.flatnonzero(variant_of == v)] for start in range(0, len(members), block)]
    # Blocks are independent and numpy's sorts and products release the GIL, so they run on every core: the
    # counts are integer sums and each block writes its own rows, so the result does not depend on the order.
    with ThreadPoolExecutor(max(1, min(threads, len(blocks)))) as pool:
        for idx, national_ranks, summed in pool.map(lambda job: one_block(*job), blocks):
            ranks[idx] = national_ranks
            if summed is not None:
                counts.region_bottom += summed[0]
                counts.national_bottom += summed[1]
                counts.candidate += summed[2]
    # each thread's malloc arena keeps its blocks' pages (23,000 zones: ~350 MB more than one thread would leave);
    # given back here, not carried into the reports step
    release_memory()
    return ranks, counts


def rank_robustness(inputs: RobustnessInputs, settings: Robustness | None = None, seed: int | None = None,
                    block_bytes: int = BLOCK_BYTES) -> pd.DataFrame:
    """The ``rank_robustness`` dataset of one year (docs/contract/04-outputs.md §4.1), one row per cohort zone.

    ``settings`` default to the catalogue's ``robustness`` section; ``seed`` to the section's seed, else the
    data year (docs/contract/02-inputs.md §2.3).
    """
    cat = inputs.catalogue
    settings = settings or cat.robustness
    seed = seed if seed is not None else (settings.seed if settings.seed is not None else inputs.data_year)
    zones = inputs.zones
    if len(zones) == 0:
        return pd.DataFrame(columns=COLUMNS)
    variants = score_variants(inputs.values, inputs.status, cat, settings)
    draws = draw(settings, seed, len(cat.indicators), len(cat.categories))
    d = cat.downgrade
    earlier = None
    if d is not None:
        counted = earlier_bottom_counts(inputs.data_year, d, inputs.history)
        earlier = counted.reindex(zones.zone_code, fill_value=0).to_numpy(dtype="int64")
    ranks, counts = sample_ranks(variants, draws, cat, zones.region.to_numpy(), d, earlier, block_bytes)
    median, p05, p95 = np.quantile(ranks, QUANTILES, axis=0, method="inverted_cdf")
    n = settings.samples

    def share(c: np.ndarray | None) -> np.ndarray:
        return c / n if c is not None else np.full(len(zones), np.nan)
    out = pd.DataFrame({
        "zone_code": zones.zone_code.to_numpy(),
        "rank_nominal": zones.national_rank.to_numpy(dtype="int64"),
        "rank_median": median.astype("int64"), "rank_p05": p05.astype("int64"), "rank_p95": p95.astype("int64"),
        "p_top100": in_top100(ranks).sum(axis=0) / n,
        "p_region_bottom": share(counts.region_bottom),
        "samples": n, "seed": seed, "method_version": cat.version,
        "p_candidate": share(counts.candidate), "p_national_bottom": share(counts.national_bottom),
    })
    return out.sort_values(["rank_nominal", "zone_code"], kind="stable").reset_index(drop=True)
