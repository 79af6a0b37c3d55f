"""Imported for its effect: Dagster's beta / preview / supersession warnings ignored.

The code location uses a few beta / preview Dagster features on purpose (partition mappings that allow missing
upstream years, automation conditions); Dagster warns about each on every load, dozens of lines in the UI's log
that say nothing about the data. :mod:`pipelines.definitions` imports this module before anything else of the
code location, so every way into it (`dagster dev`, the daemon, `etdz run`) passes here.
"""

import warnings

from dagster import BetaWarning, PreviewWarning, SupersessionWarning

for _category in (BetaWarning, PreviewWarning, SupersessionWarning):
    warnings.filterwarnings("ignore", category=_category)
