"""The Dagster layer: definitions, jobs, schedule, sensor, automation, and the `etdz` commands that drive them.

The code location uses a few beta / preview Dagster features on purpose; Dagster warns about each on every load,
dozens of lines in the UI's log that say nothing about the data. Exactly those warnings are silenced here, by
their message (:data:`ON_PURPOSE`), by :mod:`pipelines.quiet`, which the modules that build the code location
(:mod:`pipelines.definitions`, :mod:`pipelines.jobs`) import first: any other beta, preview or supersession warning
(a feature someone starts using without deciding to, an API Dagster retires) still shows. Using another such
feature on purpose: add its message here, with the reason.

Importing the package imports no Dagster: `etdz validate`, `template` and the other commands that need none import
``pipelines.cli`` too, and Dagster's import would cost each ~1 s (docs/benchmarks.md, issue 22); ``ON_PURPOSE``
names its categories, resolved when it is first read.
"""

import warnings

#: (category's name in ``dagster``, start of the message, why the feature is used although Dagster marks it)
_ON_PURPOSE: tuple[tuple[str, str, str], ...] = (
    ("BetaWarning", r"Function `observable_source_asset` is currently in beta",
     "the inbox and the review queries are observed source assets (assets/inbox.py, assets/queries.py)"),
    ("BetaWarning", r"Parameter `allow_nonexistent_upstream_partitions` of initializer `TimeWindowPartitionMapping",
     "the cross-year mappings: the years before the first partition do not exist (assets/mappings.py)"),
    ("PreviewWarning", r"Specifying a partitions_def on an AssetCheckSpec is currently in preview",
     "the checks are partitioned by data year, so the UI shows each year's result apart (checks/validation.py)"),
    ("PreviewWarning", r"Parameter `automation_condition` of function `define_asset_job`",
     "the job-scoped automation condition that brings later years up to date (pipelines/jobs.py)"),
    ("PreviewWarning", r"Static method `AutomationCondition.any_job_root_assets_match` is currently in preview",
     "the same condition (pipelines/jobs.py)"),
    ("BetaWarning", r"Parameter `use_user_code_server` of initializer `AutomationConditionSensorDefinition",
     "the job's automation sensor evaluates in the code server, where the job's resource lives (pipelines/jobs.py)"),
)


def __getattr__(name: str):
    # ON_PURPOSE: (category, start of the message, why), the categories Dagster's classes (imports Dagster)
    if name == "ON_PURPOSE":
        import dagster

        return tuple((getattr(dagster, category), message, why) for category, message, why in _ON_PURPOSE)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def silence_on_purpose() -> None:
    """Ignore the warnings of :data:`ON_PURPOSE` (by message and category), and only those (imports Dagster)."""
    for category, message, _why in __getattr__("ON_PURPOSE"):
        warnings.filterwarnings("ignore", message=message, category=category)
