"""Run every chapter on a GPU, each in a fresh kernel, and report which ones pass.

The chapters pick CUDA wherever it is present (``llmtheory.device.get_device``), so a reader
in Colab with a GPU runtime runs the same code on another device: other kernels, other
rounding, CUDA tensors where the CPU run had CPU ones. This script is the check for that
reader: on a machine with a GPU it executes every chapter of the book (several at once, one
kernel each, ``LLMTHEORY_DEVICE=cuda``) and prints, per chapter, its time and either "ok" or
the cell and error that stopped it; it exits non-zero if any chapter fails. It is not part of
``make test``, which runs where there is no GPU.

    python scripts/gpu_smoke.py [--jobs 9] [--allow-cpu] [notebook ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from chapters import toc_notebooks  # noqa: E402


def run(path: Path) -> tuple[str, float, str]:
    """Execute one chapter; return its name, seconds and "ok" or the failing cell's error."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    try:
        client.execute()
        outcome = "ok"
    except CellExecutionError as exc:
        cell = next((i for i, c in enumerate(nb.cells) if _failed(c)), "?")
        outcome = f"cell {cell}: {exc.ename}: {exc.evalue}"[:400]
    return str(path.relative_to(ROOT)), time.perf_counter() - start, outcome


def _failed(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    parser.add_argument("--jobs", type=int, default=9, help="chapters run at once")
    parser.add_argument("--allow-cpu", action="store_true", help="run even without a GPU")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.allow_cpu:
        sys.exit("no CUDA device: this check is for a GPU machine (--allow-cpu runs it anyway)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.environ.update(LLMTHEORY_PROGRESS="0", LLMTHEORY_DEVICE=device)
    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}; {len(notebooks)} chapters", flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run, notebooks))
    for chapter, seconds, outcome in results:
        print(f"{seconds:7.1f} s  {chapter:60s} {outcome}")
    failed = [r for r in results if r[2] != "ok"]
    print(f"{len(results) - len(failed)} of {len(results)} chapters ran to the end on {name}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
