"""Imported for its effect: the Dagster warnings of features used on purpose silenced (:mod:`pipelines`).

:mod:`pipelines.definitions` and :mod:`pipelines.jobs` import it first, so every way into the code location
(`dagster dev`, the daemon, `etdz run`) passes here; importing :mod:`pipelines` alone imports no Dagster.
"""

from pipelines import silence_on_purpose

silence_on_purpose()
