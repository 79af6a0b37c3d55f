"""The code location's name and origin, shared by `etdz ui`'s workspace and the runs `etdz run` executes.

The UI lists a run on the Overview timeline and on the job's page only when the run carries the origin of a
code location it knows (location name + repository name); a run executed in-process by a script has none.
Runs started by `etdz run` are created with the origin built here, the same one the webserver gives the runs
it launches, so both kinds show up alike (tests/ops/test_webserver.py checks it through GraphQL). The Dagster
classes behind it are private: they are built in :mod:`pipelines.dagster_private`.
"""

from __future__ import annotations

from pathlib import Path

from pipelines import dagster_private

LOCATION_NAME = "etdz"
MODULE, ATTRIBUTE = "pipelines.definitions", "defs"
# the folder that holds the `pipelines` package (the checkout, or site-packages for an installed copy)
WORKING_DIRECTORY = str(Path(__file__).resolve().parents[1])


def workspace_yaml(socket: str) -> str:
    """The workspace `etdz ui` starts the webserver and the daemon with: the code server on ``socket``
    (:func:`code_server_command`) under :data:`LOCATION_NAME`."""
    return f"load_from:\n  - grpc_server:\n      socket: {socket}\n      location_name: {LOCATION_NAME}\n"


def code_server_command(socket: str) -> list[str]:
    """`dagster code-server start` of this code location on the unix ``socket``: the one process that loads the
    code for the webserver and the daemon (a Reload in the UI reloads it for both)."""
    import sys

    return [sys.executable, "-m", "dagster", "code-server", "start", "-m", MODULE, "-a", ATTRIBUTE,
            "-d", WORKING_DIRECTORY, "--location-name", LOCATION_NAME, "--socket", socket, "--log-level", "info"]


def remote_job_origin(job_name: str):
    """The origin the webserver would give a run of ``job_name`` launched from the UI."""
    return dagster_private.remote_job_origin(job_name, LOCATION_NAME, MODULE, ATTRIBUTE, WORKING_DIRECTORY)


def job_code_origin(job_name: str):
    """Where the job's code is loaded from (lets the UI re-execute a run `etdz run` started)."""
    return dagster_private.job_code_origin(job_name, MODULE, ATTRIBUTE, WORKING_DIRECTORY)
