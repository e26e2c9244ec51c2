"""Every chapter within budget: 3 minutes on one core, 1 GB peak memory (run `make bench` first).

Checks ``chapters.json`` in ``$LLMTHEORY_BENCHMARKS`` (``make budget`` sets it to
``_build/benchmarks``, which ``make bench`` writes); without it, in ``_build/benchmarks/`` when that
exists, else in the committed record ``book/back/benchmarks/`` (as the execution report does).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from chapters import BUDGET_PEAK_MB, BUDGET_SECONDS, LATEST, RECORD, toc_notebooks  # noqa: E402

NEWEST = LATEST if (LATEST / "chapters.json").exists() else RECORD
RESULTS = ROOT / os.environ.get("LLMTHEORY_BENCHMARKS", NEWEST)  # a relative path: from ROOT
OUTPUT = RESULTS / "chapters.json"
REPORT = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {"rows": []}
MEASURED = {row["notebook"]: row for row in REPORT["rows"]}


@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.name)
def test_chapter_is_measured_and_within_budget(path):
    row = MEASURED.get(str(path.relative_to(ROOT)))
    assert row is not None, f"{path.name} has no measurement in {OUTPUT}: run `make bench`"
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), (
        f"{path.name} changed since it was measured ({OUTPUT}): run `make bench`"
    )
    assert row["seconds"] <= BUDGET_SECONDS, f"{path.name}: {row['seconds']} s > {BUDGET_SECONDS} s"
    assert row["peak_mb"] <= BUDGET_PEAK_MB, (
        f"{path.name}: {row['peak_mb']} MB > {BUDGET_PEAK_MB} MB"
    )
