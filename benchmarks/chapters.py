"""Execute every chapter of the book in a fresh kernel on one core; record time and peak memory.

Writes ``chapters.json`` into ``--out`` (default ``book/back/benchmarks/``, the committed record;
``make bench`` and ``make test`` write ``_build/benchmarks/``). The execution report page renders
it and ``tests/book/test_budget.py`` checks it against the budget (3 minutes, 1 GB per chapter).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import torch
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "book" / "back" / "benchmarks"  # committed; `make bench-record` updates it
LATEST = ROOT / "_build" / "benchmarks"  # ignored by git; `make bench` and `make test` write it
REPORTS = ("book/back/execution_report", "book/back/how_checks_are_tested")  # pages, not chapters
BUDGET_SECONDS = 180.0
BUDGET_PEAK_MB = 1024.0


def toc_notebooks(toc_path: Path = ROOT / "_toc.yml") -> list[Path]:
    """The book's notebooks in reading order, from ``_toc.yml``, without the report pages."""
    toc = yaml.safe_load(toc_path.read_text())
    files: list[str] = []

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("chapters", []) + entry.get("sections", []))

    walk([{"file": toc["root"]}] + [c for part in toc.get("parts", []) for c in part["chapters"]])
    chapters = [f for f in files if f not in REPORTS]
    return [ROOT / f"{f}.ipynb" for f in chapters if (ROOT / f"{f}.ipynb").exists()]


def notebook_title(nb: nbformat.NotebookNode) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "?"


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (``VmHWM``) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def run_notebook(path: Path) -> dict:
    """Execute ``path`` cell by cell in a fresh kernel; return seconds and peak memory."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        start = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - start
        peak = peak_rss_mb(pid)
    return {
        "notebook": str(path.relative_to(ROOT)),
        "title": notebook_title(nb),
        "seconds": round(seconds, 1),
        "peak_mb": round(peak, 0),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores_available": os.cpu_count(),
        "cores_used": 1,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    parser.add_argument("--cpu", type=int, default=0, help="the core to pin the kernels to")
    parser.add_argument("--out", type=Path, default=RECORD, help="folder for chapters.json")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})  # kernels inherit the affinity: one core
    os.environ.update(LLMTHEORY_PROGRESS="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    rows = []
    for path in notebooks:
        row = run_notebook(path)
        print(f"{row['seconds']:7.1f} s {row['peak_mb']:6.0f} MB  {row['notebook']}", flush=True)
        rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "chapters.json").write_text(
        json.dumps(
            {
                "title": "Chapter execution",
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "machine": machine(),
                "budget": {"seconds": BUDGET_SECONDS, "peak_mb": BUDGET_PEAK_MB},
                "rows": rows,
                "notes": "Each chapter executed in a fresh kernel pinned to one core; time "
                "excludes kernel start-up; peak memory is the kernel's peak resident set (VmHWM).",
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
