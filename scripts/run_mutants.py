"""Plant every catalogued bug in every chapter that calls the code it changes: ``make mutants``.

1. *Usage*: each chapter runs once, unmutated, with every catalogued target watched; this proves
   the chapter passes and records which targets it calls.
2. *Chapters*: each bug runs against every chapter that calls its target, in a fresh kernel with
   the bug planted by a first cell. The outcome is the first failing ``check`` (its name and
   equation), another error, or a survival.
3. *Unit tests*: each bug runs against the test files of the module it changes.

Results are keyed by the SHA-256 of what they depend on (``tests/mutants/record.py``) and only
stale ones are re-run, on ``--jobs`` processes. The record goes to ``book/back/mutants/record.json``
(shipped, so the page "How the checks are tested" reads it anywhere).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "mutants"))
import harness  # noqa: E402
import record  # noqa: E402

from llmtheory.resources import record_shipped  # noqa: E402

CELL_TIMEOUT = 600  # s; a bug that makes a chapter hang is reported as a timeout
FAILURE = re.compile(r"^(?P<name>.*?) disagrees with (?P<equation>\S+): ", re.S)


def run_chapter(chapter: str, bug_id: str | None) -> dict:
    """Execute ``chapter`` with ``bug_id`` planted (``None``: watch every target)."""
    path = record.ROOT / chapter
    nb = nbformat.read(path, as_version=4)
    setup = (
        f"import sys\nsys.path.insert(0, {str(record.HERE)!r})\nimport harness\n"
        f"harness.install({bug_id!r})"
    )
    nb.cells.insert(0, nbformat.v4.new_code_cell(setup))
    nb.cells.append(nbformat.v4.new_code_cell("harness.report()"))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    result: dict = {}
    with client.setup_kernel(stderr=subprocess.DEVNULL):  # the kernel's own warnings
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        except CellExecutionError as exc:
            if index == 0:  # the bug could not be planted: fail loudly, never pass
                raise harness.MutantError(f"{bug_id} in {chapter}: {exc.evalue}") from None
            failure = FAILURE.match(exc.evalue or "")
            result = {"cell": index - 1}
            if exc.ename == "CheckFailure" and failure:
                result |= {"outcome": "check", **failure.groupdict(), "message": exc.evalue}
            else:
                result |= {"outcome": "error", "message": f"{exc.ename}: {exc.evalue}"}
            result["message"] = result["message"][:400]
        except (CellTimeoutError, DeadKernelError) as exc:
            result = {"outcome": "error", "message": f"{type(exc).__name__}: {exc}"[:400]}
    if not result:
        last = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
        reached = (
            json.loads(last.split("MUTANT-REACHED ", 1)[1]) if "MUTANT-REACHED" in last else []
        )
        result = {"outcome": "passed", "reached": reached}
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def run_unit(bug_id: str, tests: list[str]) -> dict:
    """Run the unit tests ``tests`` with ``bug_id`` planted; the first failing test, if any."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        env = {
            **os.environ,
            "LLMTHEORY_MUTANT": bug_id,
            "PYTHONPATH": os.pathsep.join([str(record.HERE), os.environ.get("PYTHONPATH", "")]),
        }
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
            + ["-p", "mutants_plugin", f"--junitxml={junit}", *tests],
            cwd=record.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=CELL_TIMEOUT,
        )
        seconds = round(time.perf_counter() - start, 1)
        if "MutantError" in proc.stdout + proc.stderr and proc.returncode in (3, 4):
            raise harness.MutantError(f"{bug_id}: {proc.stdout[-600:]}{proc.stderr[-600:]}")
        failed = None
        if junit.exists():
            for case in ET.parse(junit).iter("testcase"):
                if case.find("failure") is not None or case.find("error") is not None:
                    failed = f"{case.get('classname')}::{case.get('name')}"
                    break
    if proc.returncode == 0:
        return {"outcome": "passed", "seconds": seconds}
    return {"outcome": "failed", "test": failed or proc.stdout[-300:], "seconds": seconds}


def _job(kind: str, *args) -> tuple[str, tuple, dict]:
    """Run one job; its result carries the key of the sources as they were when it started."""
    os.environ.update(LLMTHEORY_PROGRESS="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    bugs = harness.load_catalogue()
    if kind == "unit":
        key = record.unit_key(bugs[args[0]])
        return kind, args, {"key": key, **run_unit(*args)}
    chapter, bug_id = args
    path = record.ROOT / chapter
    if bug_id is None:
        key = record.usage_key(path, sorted({bug["target"] for bug in bugs.values()}))
    else:
        key = record.chapter_key(bugs[bug_id], path)
    return kind, args, {"key": key, **run_chapter(chapter, bug_id)}


def run_jobs(jobs: list[tuple], workers: int) -> list[tuple[str, tuple, dict]]:
    results = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_job, *job) for job in jobs]
        for future in as_completed(futures):
            kind, args, result = future.result()
            what = "(unmutated)" if args[-1] is None else " ".join(map(str, args))
            found = result.get("equation", result.get("test", result.get("message", "")))
            outcome = f"{result['outcome']} {found}"
            print(f"{result['seconds']:7.1f} s  {kind:7s} {what[:80]:80s} {outcome}", flush=True)
            results.append((kind, args, result))
    return results


def _merge(other: dict, bugs: dict, usage: dict, results: dict) -> None:
    """Take the results of ``other`` (another record) that are fresh for the code as it is."""
    targets = sorted({bug["target"] for bug in bugs.values()})
    for chapter, entry in other.get("usage", {}).items():
        path = record.ROOT / chapter
        if path.exists() and entry["key"] == record.usage_key(path, targets):
            usage[chapter] = entry
    for bug_id, entry in other.get("bugs", {}).items():
        if bug_id not in bugs:
            continue
        mine = results.setdefault(bug_id, {})
        for chapter, result in entry.get("chapters", {}).items():
            path = record.ROOT / chapter
            if path.exists() and result["key"] == record.chapter_key(bugs[bug_id], path):
                mine.setdefault("chapters", {})[chapter] = result
        unit = entry.get("unit")
        if unit and unit["key"] == record.unit_key(bugs[bug_id]):
            mine["unit"] = unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--bug", action="append", help="only these bugs (repeatable)")
    parser.add_argument("--chapter", action="append", help="only chapters whose path contains this")
    parser.add_argument("--force", action="store_true", help="re-run even fresh results")
    parser.add_argument(
        "--record", type=Path, default=record.RECORD, help="default: the shipped record"
    )
    parser.add_argument(
        "--merge", type=Path, action="append", default=[], help="reuse fresh results from these"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    bugs = harness.load_catalogue()
    for bug in bugs.values():
        harness.mutated_source(bug)  # every bug still applies, before anything runs
    targets = sorted({bug["target"] for bug in bugs.values()})
    chapters = [
        record.rel(p)
        for p in record.chapters()
        if not args.chapter or any(c in record.rel(p) for c in args.chapter)
    ]
    selected = [b for b in bugs if not args.bug or b in args.bug]
    old = json.loads(args.record.read_text()) if args.record.exists() else {}
    usage = {c: u for c, u in old.get("usage", {}).items() if (record.ROOT / c).exists()}
    results = {b: r for b, r in old.get("bugs", {}).items() if b in bugs}
    for other in map(json.loads, (p.read_text() for p in args.merge)):
        _merge(other, bugs, usage, results)

    # 1. usage: which chapters call which targets (and pass unmutated)
    stale = [
        c
        for c in chapters
        if args.force or usage.get(c, {}).get("key") != record.usage_key(record.ROOT / c, targets)
    ]
    for _, (chapter, _), result in run_jobs([("chapter", c, None) for c in stale], args.jobs):
        if result["outcome"] != "passed":
            sys.exit(f"{chapter} fails without any bug: {result['message']}")
        usage[chapter] = {
            "key": result["key"],
            "reached": result["reached"],
            "seconds": result["seconds"],
        }

    # 2. every bug in every chapter that calls its target; 3. in its module's unit tests
    jobs: list[tuple] = []
    for bug_id in selected:
        bug = bugs[bug_id]
        entry = results.setdefault(bug_id, {})
        entry["chapters"] = {
            c: r
            for c, r in entry.get("chapters", {}).items()
            if c in usage and bug["target"] in usage[c]["reached"]
        }
        for chapter in chapters:
            if bug["target"] not in usage[chapter]["reached"]:
                continue
            fresh = entry["chapters"].get(chapter, {}).get("key")
            if args.force or fresh != record.chapter_key(bug, record.ROOT / chapter):
                jobs.append(("chapter", chapter, bug_id))
        tests = [record.rel(p) for p in record.unit_tests(bug["target"])]
        if args.chapter and not any(bug["target"] in usage[c]["reached"] for c in chapters):
            continue  # only the bugs of the chapters asked for
        if tests and (args.force or (entry.get("unit") or {}).get("key") != record.unit_key(bug)):
            jobs.append(("unit", bug_id, tests))
    # longest chapters first, so that both workers stay busy to the end
    jobs.sort(key=lambda j: -usage.get(j[1], {}).get("seconds", 0) if j[0] == "chapter" else 0)
    for kind, job_args, result in run_jobs(jobs, args.jobs):
        if kind == "unit":
            bug_id = job_args[0]
            results[bug_id]["unit"] = result
        else:
            chapter, bug_id = job_args
            results[bug_id]["chapters"][chapter] = result

    labels = record.labels()
    out = {
        "title": "Mutation record",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "usage": {c: usage[c] for c in sorted(usage)},
        "bugs": {
            b: {
                **{k: v for k, v in bugs[b].items() if k not in ("find", "replace", "count")},
                "chapters": dict(sorted(results.get(b, {}).get("chapters", {}).items())),
                "unit": results.get(b, {}).get("unit"),
            }
            for b in bugs
        },
        "labels": {
            label: labels[label]
            for label in sorted(
                {
                    r.get("equation")
                    for b in results.values()
                    for r in b.get("chapters", {}).values()
                }
                - {None}
            )
            if label in labels
        },
        "seconds": round(time.perf_counter() - start, 1),
    }
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    if args.record.resolve() == record.RECORD:
        print("recorded", record_shipped(record.RECORD), end=" ")
    print(f"{args.record} in {out['seconds']} s")


if __name__ == "__main__":
    main()
