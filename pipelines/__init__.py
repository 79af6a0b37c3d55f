"""The Dagster layer: definitions, jobs, schedule, sensor, automation, and the `etdz` commands that drive them.

Importing the package imports no Dagster: `etdz validate`, `template` and the other commands that need none
import ``pipelines.cli`` too, and Dagster's import would cost each ~1 s (docs/benchmarks.md, issue 22). Dagster's
beta / preview warnings are silenced by :mod:`pipelines.quiet`, which :mod:`pipelines.definitions` imports first.
"""
