"""The code location's name and origin, shared by `etdz ui`'s workspace and the runs `etdz run` executes.

The UI lists a run on the Overview timeline and on the job's page only when the run carries the origin of a
code location it knows (location name + repository name); a run executed in-process by a script has none.
Runs started by `etdz run` are created with the origin built here, the same one the webserver gives the runs
it launches, so both kinds show up alike (tests/ops/test_webserver.py checks it through GraphQL).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

LOCATION_NAME = "etdz"
MODULE, ATTRIBUTE = "pipelines.definitions", "defs"
# the folder that holds the `pipelines` package (the checkout, or site-packages for an installed copy)
WORKING_DIRECTORY = str(Path(__file__).resolve().parents[1])


def workspace_yaml() -> str:
    """The workspace `etdz ui` starts Dagster with: this code location under :data:`LOCATION_NAME`."""
    return (f"load_from:\n  - python_module:\n      module_name: {MODULE}\n      attribute: {ATTRIBUTE}\n"
            f"      location_name: {LOCATION_NAME}\n      working_directory: {WORKING_DIRECTORY}\n")


def remote_job_origin(job_name: str) -> RemoteJobOrigin:
    """The origin the webserver would give a run of ``job_name`` launched from the UI."""
    target = LoadableTargetOrigin(executable_path=sys.executable, module_name=MODULE, attribute=ATTRIBUTE,
                                  working_directory=WORKING_DIRECTORY)
    location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable_target_origin=target, location_name=LOCATION_NAME)
    return RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME),
                           job_name=job_name)


def job_code_origin(job_name: str) -> JobPythonOrigin:
    """Where the job's code is loaded from (lets the UI re-execute a run `etdz run` started)."""
    pointer = ModuleCodePointer(MODULE, ATTRIBUTE, WORKING_DIRECTORY)
    return JobPythonOrigin(job_name, RepositoryPythonOrigin(sys.executable, pointer, None, None, None))
