"""The Great Expectations suite: column / column-pair expectations derived from the catalogue — its measure codes
and (measure, unit) pairs as value sets, the bounds as column pairs — run once on the long frame with an
ephemeral GX context; and the report of that run, per expectation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.numbers import NUMBER_REGEX
from etdz.validation.checks import CHECKS, ISSUE_COLUMNS
from etdz.validation.long_frame import UNIT_KEY_SEP, consistency_slots

WHOLE_TOLERANCE = 1e-9  # the largest whole-number gap an integer measure's value may have (float noise)


@dataclass
class ExpectationOutcome:
    """One expectation of the suite and what it found."""

    check: str
    severity: str
    family: str
    expectation_type: str
    columns: tuple[str, ...]
    success: bool
    element_count: int
    unexpected_count: int


@dataclass
class ValidationReport:
    """The GX run of one year: per expectation, and the failing rows mapped to file / row / column."""

    data_year: int
    method_version: str
    suite_name: str = ""
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))
    rows_checked: int = 0
    duration_s: float = 0.0
    gx_version: str = ""

    @property
    def success(self) -> bool:
        """Whether every expectation of the suite passed."""
        return all(e.success for e in self.expectations)


# --------------------------------------------------------------------------- GX, imported lazily once

_GX: Any = None


def gx_module():
    """great_expectations, imported on first use (2–4 s), once per process; the parts of its import our suites
    never run (scipy.stats, altair: :mod:`etdz.lazy_imports`) load only if something uses them; its kwarg
    look-ups with the configuration built once (:mod:`etdz.validation.gx_kwargs`, on the checked GX version)."""
    global _GX
    if _GX is None:
        from etdz.lazy_imports import deferred  # noqa: PLC0415
        from etdz.validation import gx_kwargs  # noqa: PLC0415

        with deferred():
            import great_expectations as gx  # noqa: PLC0415

        gx_kwargs.install()
        _GX = gx
    return _GX


def ephemeral_context():
    """A GX data context in memory: no files, no analytics, no progress bars."""
    gx = gx_module()
    from great_expectations.data_context.types.base import (  # noqa: PLC0415
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)




# --------------------------------------------------------------------------- the suite


def suite_spec(catalogue: Catalogue) -> list[tuple[str, dict]]:
    """The expectations of a catalogue's suite as (GX expectation class name, its arguments), in the suite's
    order, without GX: :func:`build_suite` makes them, :func:`spec_columns` reads their columns.

    The catalogue is in it as data: its measure codes, its (measure, accepted unit)
    pairs; the per-measure bounds travel as columns of the frame."""
    pairs = sorted((code, u) for code, m in catalogue.measures.items() for u in m.units)

    def meta(check: str, column: str) -> dict:
        c = CHECKS[check]
        return {"check": check, "severity": c.severity, "family": c.family, "column": column}

    def at_least(column_a: str, column_b: str, check: str, bound: str | None = None):
        """``column_a`` ≥ ``column_b`` where both are present (a bound the measure does not have is ±inf)."""
        return ("ExpectColumnPairValuesAToBeGreaterThanB", dict(
            column_A=column_a, column_B=column_b, or_equal=True, ignore_row_if="either_value_is_missing",
            meta=meta(check, "value") | ({"bound": bound} if bound else {})))

    def consistency(slot, severity: str):
        """One slot of consistency rules (:class:`~etdz.validation.long_frame.ConsistencySlot`): the value against
        the right figure (broken: a warning) or against the limit within the tolerance (broken: an error)."""
        other = slot.limit_col if severity == "error" else slot.right_col
        a, b = (other, "value") if slot.upper else ("value", other)
        m = meta("row.inconsistent", "value") | {"severity": severity, "slot": slot.index, "rules": slot.rules}
        return ("ExpectColumnPairValuesAToBeGreaterThanB", dict(
            column_A=a, column_B=b, or_equal=not slot.strict, ignore_row_if="either_value_is_missing", meta=m))

    spec = [
        ("ExpectColumnValuesToBeInSet", dict(column="measure_code", value_set=sorted(catalogue.measures),
                                             meta=meta("row.unknown_measure", "measure_code"))),
        # (measure, unit) pairs as one key column: the pair-set metric of GX iterates rows in Python
        ("ExpectColumnValuesToBeInSet", dict(column="unit_key",
                                             value_set=[f"{m}{UNIT_KEY_SEP}{u}" for m, u in pairs],
                                             meta=meta("row.unknown_unit", "unit"))),
        ("ExpectColumnValuesToBeNull", dict(column="no_rate", meta=meta("row.no_exchange_rate", "unit"))),
        ("ExpectColumnValuesToMatchRegex", dict(column="value_text", regex=NUMBER_REGEX,
                                                meta=meta("row.invalid_value", "value"))),
        ("ExpectColumnValuesToBeNull", dict(column="formula_col", meta=meta("row.formula", "value"))),
        ("ExpectColumnValuesToBeNull", dict(column="overflow", meta=meta("row.field_count", "value"))),
        ("ExpectColumnValuesToBeNull", dict(column="normalised", meta=meta("row.number_normalised", "value"))),
        ("ExpectCompoundColumnsToBeUnique", dict(column_list=["file_idx", "dup_measure"],
                                                 ignore_row_if="any_value_is_missing",
                                                 meta=meta("row.duplicate_measure", "measure_code"))),
        at_least("value", "hard_min", "row.hard_bounds", "hard_min"),
        at_least("hard_max", "value", "row.hard_bounds", "hard_max"),
        ("ExpectColumnValuesToBeBetween", dict(column="whole_gap", min_value=0, max_value=WHOLE_TOLERANCE,
                                               meta=meta("row.not_integer", "value"))),
        ("ExpectColumnValuesToNotBeNull", dict(column="required_filled", meta=meta("row.required_missing", "value"))),
        at_least("value", "soft_min", "row.soft_range", "soft_min"),
        at_least("soft_max", "value", "row.soft_range", "soft_max"),
        at_least("not_above_value", "value", "row.not_above"),
        # the error of a slot before its warning: a row broken beyond the tolerance is reported once, as the error
        *(consistency(slot, sev) for slot in consistency_slots(catalogue) for sev in ("error", "warning")),
        at_least("yoy_ratio", "yoy_low", "row.yoy_change", "low"),
        at_least("yoy_high", "yoy_ratio", "row.yoy_change", "high"),
    ]
    for n, (_, kwargs) in enumerate(spec):
        kwargs["meta"]["order"] = n
    return spec


#: the arguments of an expectation that name the columns it reads
_COLUMN_ARGS = ("column", "column_A", "column_B", "column_list")


def spec_columns(spec: list[tuple[str, dict]]) -> list[str]:
    """The columns the expectations of ``spec`` (:func:`suite_spec`) read, in a stable order."""
    cols: list[str] = []
    for _, kwargs in spec:
        for arg in _COLUMN_ARGS:
            value = kwargs.get(arg)
            for c in (value if isinstance(value, list | tuple) else [value]):
                if c and c not in cols:
                    cols.append(c)
    return cols


def build_suite(catalogue: Catalogue, name: str):
    """The expectation suite of a catalogue (:func:`suite_spec`), for the long frame of :func:`build_long_frame`."""
    gx = gx_module()
    suite = gx.ExpectationSuite(name=name, meta={"catalogue_version": catalogue.version,
                                                 "catalogue_sha256": catalogue.sha256})
    for cls, kwargs in suite_spec(catalogue):
        suite.add_expectation(getattr(gx.expectations, cls)(**kwargs))
    return suite


def suite_columns(suite) -> list[str]:
    """The columns a GX suite's expectations read, in a stable order (as :func:`spec_columns`)."""
    return spec_columns([("", {a: getattr(e, a, None) for a in _COLUMN_ARGS}) for e in suite.expectations])


_RESULT_FORMAT = {"result_format": "COMPLETE", "include_unexpected_rows": False,
                  "return_unexpected_index_query": False}
#: the screening pass of :class:`SuiteRunner` with ``screen=True``: success only, no failing-row metrics
_SCREEN_FORMAT = {"result_format": "BOOLEAN_ONLY"}


class SuiteRunner:
    """A suite ready to run on any number of long frames: GX's context, the suite added to it, a pandas data asset
    and its whole-dataframe batch definition, built once.

    The run builds one per year (:func:`etdz.validation.validate_rows`); the warm check (:mod:`etdz.checking`)
    keeps one per catalogue for the life of its process (building them cost ~40 ms, a third of a one-file check).
    Each :meth:`run` validates one batch of the given frame against the suite and returns GX's result; nothing is
    stored in the context (a ``ValidationDefinition.run`` would keep every result in the context's store — a
    long-lived process would grow with each check — and serialise it, ~10 % more per run). Not for concurrent
    use: GX's context is not thread-safe (:class:`etdz.checking.Checker` holds a lock).

    ``screen=True`` (the warm check): every expectation first runs through GX with ``BOOLEAN_ONLY`` — GX then
    plans and computes no failing-row metrics (unexpected lists, partial lists, counts), about half of its cost
    at one file — and only the expectations that failed run again, with ``COMPLETE``, for their failing rows. The
    failing rows are therefore exactly those of one ``COMPLETE`` pass; an expectation that passed has no counts
    in its result (``element_count`` / ``unexpected_count`` are not computed: the warm check reports none)."""

    def __init__(self, suite, ctx=None, *, screen: bool = False):
        """``suite``: from :func:`build_suite`, built after ``ctx`` (:func:`ephemeral_context`; GX creates a suite
        only inside a context); without ``ctx`` a new ephemeral context is made (then build the suite after it:
        use :meth:`for_catalogue`)."""
        self.context = ctx if ctx is not None else ephemeral_context()
        self.suite = self.context.suites.add(suite)
        rows = self.context.data_sources.add_pandas("submissions").add_dataframe_asset("rows")
        self.batch_definition = rows.add_batch_definition_whole_dataframe("year")
        self.columns = suite_columns(self.suite)
        self.screen = screen

    @classmethod
    def for_catalogue(cls, catalogue: Catalogue, name: str, *, screen: bool = False) -> SuiteRunner:
        """A new context and the catalogue's suite (:func:`build_suite`) in it."""
        ctx = ephemeral_context()
        return cls(build_suite(catalogue, name), ctx, screen=screen)

    def run(self, df: pd.DataFrame):
        """Validate ``df`` (the long frame) in one batch; returns the validation result (its ``results`` in the
        suite's order).

        Raises RuntimeError when GX itself failed on an expectation (a machinery error, not a rejection)."""
        # only the columns the expectations read (the index maps failures back): GX copies what it is given
        used = [c for c in self.columns if c in df.columns]  # a missing column: GX reports it
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": df[used]})
        try:
            return self._validate(batch)
        finally:
            _forget_batches(batch)

    #: the suite runs in this process (:class:`etdz.validation.worker.YearSuite` may run it in another)
    ran_in_worker = False

    def results(self, df: pd.DataFrame) -> list[ExpectationResult]:
        """:meth:`run`, as plain :class:`ExpectationResult` in the suite's order."""
        return plain_results(self.run(df))

    @property
    def gx_version(self) -> str:
        """The version of Great Expectations that runs the suite."""
        return gx_module().__version__

    def _validate(self, batch):
        if not self.screen:
            result = batch.validate(self.suite, result_format=_RESULT_FORMAT)
            _raise_on_machinery_error(result.results, counts=True)
            return result
        result = batch.validate(self.suite, result_format=_SCREEN_FORMAT)
        _raise_on_machinery_error(result.results, counts=False)
        failed = [r.expectation_config for r in result.results if not r.success]
        if failed:  # their failing rows: the same expectations again, in one COMPLETE pass
            gx = gx_module()
            again = batch.validate(gx.ExpectationSuite(name=f"{self.suite.name}_failed", expectations=failed),
                                   result_format=_RESULT_FORMAT)
            _raise_on_machinery_error(again.results, counts=True)
            detail = {_order(r): r for r in again.results}
            result.results = [detail.get(_order(r), r) for r in result.results]
        return result


@dataclass(frozen=True)
class ExpectationResult:
    """What :func:`etdz.validation.validate_rows` reads of one expectation's GX result, in plain values: it
    pickles (the suite may run in :mod:`etdz.validation.worker`'s process) and needs no GX to read."""

    order: int
    meta: dict
    expectation_type: str
    columns: tuple[str, ...]
    success: bool
    element_count: int
    unexpected_count: int
    unexpected_index_list: tuple


def plain_results(result) -> list[ExpectationResult]:
    """GX's validation result (:meth:`SuiteRunner.run`) as :class:`ExpectationResult`, in the suite's order."""
    out = []
    for r in result.results:
        cfg = r.expectation_config
        kw = cfg.kwargs
        cols = (tuple(str(kw[k]) for k in ("column", "column_A", "column_B") if k in kw)
                or tuple(kw.get("column_list", ())))
        res = r.result or {}
        out.append(ExpectationResult(
            order=_order(r), meta=dict(cfg.meta or {}), expectation_type=cfg.type, columns=cols,
            success=bool(r.success), element_count=int(res.get("element_count") or 0),
            unexpected_count=int(res.get("unexpected_count") or 0),
            unexpected_index_list=tuple(res.get("unexpected_index_list") or ())))
    return sorted(out, key=lambda e: e.order)


def _forget_batches(batch) -> None:
    """Drop what GX's execution engine keeps after a validation: every batch's frame (a copy of the long frame,
    ~170 MB at 23,000 zones) and every resolved metric. The engine lives as long as its context — GX's project
    manager holds the last context of the process, the warm check holds one per catalogue — so without this a
    year's frame stays in the run's process through its later steps, and a long-lived checker keeps every
    file it has checked."""
    engine = getattr(getattr(batch, "data", None), "execution_engine", None)
    manager = getattr(engine, "batch_manager", None)
    if manager is not None:
        manager.batch_data_cache.clear()
        manager.reset_batch_cache()
    cache = getattr(engine, "_metric_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def _order(r) -> int:
    return int((r.expectation_config.meta or {}).get("order", 0))


def _raise_on_machinery_error(results, *, counts: bool) -> None:
    """RuntimeError naming the expectation GX failed on (``counts``: a COMPLETE result must have its counts)."""
    for r in results:
        info = r.exception_info or {}
        # either {raised_exception, exception_message} or {metric id: {raised_exception, ...}, ...}
        found = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
        raised = [x for x in found if x.get("raised_exception")]
        if raised or (counts and "element_count" not in (r.result or {})):
            msg = raised[0].get("exception_message") if raised else "no result"
            raise RuntimeError(f"Great Expectations failed on {r.expectation_config.type}: {msg}")


def run_suite(df: pd.DataFrame, ctx, suite):
    """Run ``suite`` (from :func:`build_suite`, built after ``ctx`` = :func:`ephemeral_context`) on the long frame
    in one batch; returns the validation result (:meth:`SuiteRunner.run`, for one frame)."""
    return SuiteRunner(suite, ctx).run(df)


# --------------------------------------------------------------------------- failing rows -> issues
