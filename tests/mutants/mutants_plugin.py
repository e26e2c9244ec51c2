"""pytest plugin: plant the bug named by ``LLMTHEORY_MUTANT`` before the tests are collected.

``LLMTHEORY_MUTANT=<id> pytest -p mutants_plugin tests/test_<module>.py`` (with ``tests/mutants`` on
``PYTHONPATH``) runs the unit tests of a module against one catalogued bug.
"""

from __future__ import annotations

import os

import harness


def pytest_configure(config) -> None:  # noqa: ARG001 - the pytest hook's signature
    bug = os.environ.get("LLMTHEORY_MUTANT")
    if bug:
        harness.install(bug)
