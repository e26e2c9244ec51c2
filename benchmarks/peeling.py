"""Peeling and density-evolution speed for chapter 5 (emergence of skills).

Measures, in one run on one thread:

* the vectorised O(edges) peeling simulator ``llmtheory.emergence.peel`` on graphs with
  10^6 skills at R = 1.5 (ensemble E1 with Λ(x) = x^3, ensemble E2 with Poisson(3) texts);
* a straightforward pure-Python queue implementation of the same 1-skill learner, on a
  10^5-skill graph of the same ensemble (10^6 takes minutes), scaled to 10^6 skills by the
  edge count since both are O(edges);
* density evolution and the thresholds R* for a table of degree distributions, u(R) on
  200 values of R each (vectorised over R).

Run from the repository root: ``python benchmarks/peeling.py``. Writes
``peeling.json`` into ``--out`` (default ``book/back/benchmarks/``, the committed record).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from llmtheory import emergence as em
from llmtheory.device import set_threads
from llmtheory.seeding import seed_everything

N_BIG, N_SMALL, R, REPEATS = 10**6, 10**5, 1.5, 3
RECORD = Path(__file__).resolve().parents[1] / "book" / "back" / "benchmarks"


def python_queue_peel(graph: em.SkillTextGraph) -> np.ndarray:
    """Reference 1-skill learner: adjacency lists and a FIFO queue of texts of degree one."""
    skills_of = [[] for _ in range(graph.n_texts)]
    texts_of = [[] for _ in range(graph.n_skills)]
    for s, t in zip(graph.skill.tolist(), graph.text.tolist(), strict=True):
        skills_of[t].append(s)
        texts_of[s].append(t)
    degree = [len(x) for x in skills_of]
    learned = [False] * graph.n_skills
    queue = [t for t in range(graph.n_texts) if degree[t] == 1]
    head = 0
    while head < len(queue):
        t = queue[head]
        head += 1
        if degree[t] != 1:
            continue
        s = next(x for x in skills_of[t] if not learned[x])
        learned[s] = True
        for t2 in texts_of[s]:
            degree[t2] -= 1
            if degree[t2] == 1:
                queue.append(t2)
    return np.array(learned)


def timed(fn, repeats: int = 1):
    """Best wall time of ``repeats`` calls and the last result."""
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def peeling_rows(rng: np.random.Generator) -> list[dict]:
    """Vectorised vs pure-Python peeling for both ensembles."""
    ensembles = {
        "E1, Λ=x^3": lambda n: em.sample_e1(n, R, np.array([0.0, 0, 0, 1]), rng),
        "E2, Poisson(3) texts": lambda n: em.sample_e2(n, R, em.poisson_degrees(3.0), rng),
    }
    rows = []
    for name, sample in ensembles.items():
        big, small = sample(N_BIG), sample(N_SMALL)
        t_fast, res = timed(lambda g=big: em.peel(g), REPEATS)
        t_small_fast, res_small = timed(lambda g=small: em.peel(g), REPEATS)
        t_py, learned_py = timed(lambda g=small: python_queue_peel(g))
        assert np.array_equal(learned_py, res_small.learned), "implementations disagree"
        t_py_big = t_py * big.n_edges / small.n_edges
        rows.append(
            {
                "task": f"peel {name}, R={R}",
                "skills": N_BIG,
                "edges": big.n_edges,
                "rounds": res.rounds,
                "unlearned": round(res.unlearned_fraction, 5),
                "vectorised_s": round(t_fast, 3),
                "python_queue_s_at_1e5": round(t_py, 3),
                "python_queue_s_scaled_to_1e6": round(t_py_big, 2),
                "speedup": round(t_py_big / t_fast, 1),
                "vectorised_s_at_1e5": round(t_small_fast, 4),
            }
        )
    return rows


def de_rows() -> list[dict]:
    """Thresholds and u(R) curves for a table of distributions."""
    table = {
        "x^2": np.array([0.0, 0, 1]),
        "x^3": np.array([0.0, 0, 0, 1]),
        "x^4": np.eye(5)[4],
        "x^5": np.eye(6)[5],
        "0.5x^2+0.28x^3+0.22x^8": np.array([0, 0, 0.5, 0.28, 0, 0, 0, 0, 0.22]),
        "0.1x+0.9x^3": np.array([0.0, 0.1, 0, 0.9]),
    }
    Rs = np.linspace(0.5, 3.0, 200)

    def run():
        out = {name: (em.threshold_e1(c), em.de_e1(Rs, c)) for name, c in table.items()}
        for d in (3.0, 5.0):
            c = em.poisson_degrees(d)
            out[f"E2 Poisson({d:g})"] = (em.threshold_e2(c), em.de_e2(Rs, c))
        return out

    t, out = timed(run, REPEATS)
    return [
        {
            "task": f"DE table: {len(out)} distributions, R* and u(R) at {Rs.size} R each",
            "total_s": round(t, 4),
            "per_distribution_ms": round(1e3 * t / len(out), 2),
            "thresholds": {k: round(v[0], 5) for k, v in out.items()},
        }
    ]


def main(out: Path = RECORD) -> None:
    """Run the benchmark, print a table and write the JSON file."""
    set_threads(1)
    rng = seed_everything(0)
    rows = peeling_rows(rng) + de_rows()
    for row in rows:
        print(" | ".join(f"{k}={v}" for k, v in row.items()))
    notes = (
        f"One thread, best of {REPEATS} runs for the vectorised code, one run for the pure-Python "
        f"queue, which is timed on a {N_SMALL:,}-skill graph of the same ensemble and scaled by "
        "the edge count to 10^6 skills (both implementations are O(edges); they are asserted "
        "to learn the same set). Graph sampling is not timed. "
        f"numpy {np.__version__}, {platform.machine()}."
    )
    out.mkdir(parents=True, exist_ok=True)
    payload = {"title": "Peeling and density evolution (chapter 5)", "rows": rows, "notes": notes}
    (out / "peeling.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RECORD, help="folder for the JSON file")
    main(parser.parse_args().out)
