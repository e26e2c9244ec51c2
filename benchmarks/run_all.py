"""The chapter timings, then every micro-benchmark in this folder, on one core.

``make bench`` (and ``make test``) write into ``_build/benchmarks/``, which git ignores;
``make bench-record`` writes the committed record ``book/back/benchmarks/`` (the default here),
whose files are shipped: their SHA-256 go to ``lib/llmtheory/data/shipped.json``, so that a
chapter reads them with ``llmtheory.resources.shipped_path`` anywhere, Colab included.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from llmtheory.resources import record_shipped

HERE = Path(__file__).resolve().parent
RECORD = HERE.parent / "book" / "back" / "benchmarks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=RECORD,
        help="folder for the JSON files (default: book/back/benchmarks, the committed record)",
    )
    out = parser.parse_args().out.resolve()
    scripts = [HERE / "chapters.py"] + sorted(
        p for p in HERE.glob("*.py") if p.name not in {"chapters.py", "run_all.py"}
    )
    for script in scripts:
        print(f"== {script.name} -> {out}", flush=True)
        cmd = ["taskset", "-c", "0", sys.executable, str(script), "--out", str(out)]
        subprocess.run(cmd, check=True)
    if out == RECORD.resolve():  # the committed record is shipped: its checksums go to the manifest
        for record in sorted(out.glob("*.json")):
            print("recorded", record_shipped(record))


if __name__ == "__main__":
    main()
