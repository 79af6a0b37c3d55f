"""The Dagster layer: definitions, jobs, schedule, sensor, automation, and the `etdz` commands that drive them.

The code location uses a few beta / preview Dagster features on purpose (partition mappings that allow missing
upstream years, automation conditions); Dagster warns about each on every load, dozens of lines in the UI's log
that say nothing about the data. They are silenced here, where every entry point into this package passes.
"""

import warnings

from dagster import BetaWarning, PreviewWarning, SupersessionWarning

for _category in (BetaWarning, PreviewWarning, SupersessionWarning):
    warnings.filterwarnings("ignore", category=_category)
