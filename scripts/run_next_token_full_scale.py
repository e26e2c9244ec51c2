"""Multiplication with chain of thought at a larger scale than chapter 7 can afford.

Chapter 7 trains the masked MLP of Malach (2024) on 2-digit multiplication for 400
steps on one CPU core. This script runs the same experiment with more digits, a wider
model and many more steps, streaming fresh training pairs every step (the paper used
4-digit operands, d = 128 and 100M examples). It uses a GPU when one is present.

    python scripts/run_next_token_full_scale.py --digits 2 3 --d 64 --steps 20000

For every (digits, format) it prints the held-out per-token teacher-forced accuracy of
the answer digits and the greedy-rollout exact match; with ``--out`` it also writes them,
with the configuration and the device, to a JSON file (rewritten after every run). Chapter 7
plots the file shipped in ``book/part4_next_token/results/``, made with

    python scripts/run_next_token_full_scale.py --digits 2 3 4 --steps 4000 \\
        --out book/part4_next_token/results/multiplication_full_scale.json

Writing that file also records its SHA-256 and size in the manifest
``lib/llmtheory/data/shipped.json`` (``llmtheory.resources.record_shipped``), against which
the chapter's ``llmtheory.resources.shipped_path`` verifies it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from datetime import datetime, timezone
from pathlib import Path

# 4-digit operands need a masked weight of about 3.7 GiB, above the library's default guard of
# 2 GiB (llmtheory.validation.check_memory); this script is meant for a machine that has it.
os.environ.setdefault("LLMTHEORY_MEMORY_LIMIT_GB", "8")

import numpy as np  # noqa: E402
import torch

from llmtheory.chain_of_thought import MULT_FORMATS, MULT_VOCAB, multiplication_cot, operand_split
from llmtheory.device import get_device
from llmtheory.next_token import (
    MaskedLinearLM,
    effective_parameters,
    exact_match,
    greedy_rollout,
    teacher_forced_accuracy,
    token_loss,
)
from llmtheory.resources import record_shipped
from llmtheory.seeding import seed_everything
from llmtheory.training import train

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "book/part4_next_token/results/multiplication_full_scale.json"


def pairs(
    rng: np.random.Generator, k: int, m: int, held_out: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``m`` random operand pairs with ``k`` digits from the training or held-out side."""
    out_a, out_b, have = [], [], 0
    while have < m:
        a = rng.integers(10 ** (k - 1), 10**k, size=2 * m)
        b = rng.integers(10 ** (k - 1), 10**k, size=2 * m)
        keep = operand_split(a, b) == held_out
        out_a.append(a[keep])
        out_b.append(b[keep])
        have += int(keep.sum())
    return np.concatenate(out_a)[:m], np.concatenate(out_b)[:m]


def run(k: int, fmt: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    rng = seed_everything(args.seed)
    p = 2 * k + 2
    test = torch.tensor(
        multiplication_cot(*pairs(rng, k, args.n_test, True), fmt, k), device=device
    )
    seq_len = test.shape[1]
    model = MaskedLinearLM(len(MULT_VOCAB), seq_len - 1, args.d, mlp=True).to(device)

    def batch(_: int) -> torch.Tensor:
        rows = multiplication_cot(*pairs(rng, k, args.batch, False), fmt, k)
        return torch.tensor(rows, device=device)

    t0 = time.time()
    train(
        model,
        batch,
        lambda m, b: token_loss(m, b, p),
        steps=args.steps,
        lr=args.lr,
        optimizer="adamw",
        weight_decay=0.1,
        schedule="cosine",
        desc=f"{k} digits, {fmt}",
    )
    per_token, _ = teacher_forced_accuracy(model, test, p)
    roll = greedy_rollout(model, test[:, :p], seq_len - p)
    em = float(exact_match(roll[:, -2 * k :], test[:, -2 * k :]))
    return {
        "T": seq_len,
        "params": effective_parameters(seq_len - 1, args.d, len(MULT_VOCAB), mlp=True),
        "answer_token_acc": float(per_token[-2 * k :].mean()),
        "exact": em,
        "se": math.sqrt(em * (1 - em) / args.n_test),
        "seconds": time.time() - t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--formats", nargs="+", default=list(MULT_FORMATS), choices=MULT_FORMATS)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    args = parser.parse_args()
    device = get_device()
    print(f"device {device}; d={args.d}, steps={args.steps}, batch={args.batch}")
    report = {
        "script": "scripts/run_next_token_full_scale.py",
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "rows": [],
    }
    for k in args.digits:
        for fmt in args.formats:
            r = run(k, fmt, args, device)
            report["rows"].append({"digits": k, "format": fmt, **r})
            if args.out is not None:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(report, indent=1) + "\n")
                if args.out.resolve() == (ROOT / SHIPPED).resolve():
                    record_shipped(args.out, root=ROOT)
            print(
                f"{k} digits, {fmt:>7}: T={r['T']:4d}, effective params {r['params']:,}, "
                f"answer-token acc {r['answer_token_acc']:.3f}, exact match "
                f"{r['exact']:.3f} ± {r['se']:.3f} ({r['seconds']:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
