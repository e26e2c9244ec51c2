"""``make bench``: the chapter timings, then every micro-benchmark in this folder, on one core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    scripts = [HERE / "chapters.py"] + sorted(
        p for p in HERE.glob("*.py") if p.name not in {"chapters.py", "run_all.py"}
    )
    for script in scripts:
        print(f"== {script.name}", flush=True)
        subprocess.run(["taskset", "-c", "0", sys.executable, str(script)], check=True)


if __name__ == "__main__":
    main()
