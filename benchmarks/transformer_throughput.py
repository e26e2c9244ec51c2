"""Training throughput of the lib transformer against torch.nn.TransformerEncoder.

Both models have the size chapter 2 trains (d_model 64, 2 heads, 2 pre-LN layers, d_ff 256,
real-valued tokens of dimension 7, sequences of 21 tokens, batch 64, causal mask), the same
linear embedding and readout, and are timed in the same run on one thread: one step is a
forward pass, a backward pass and an Adam update. Rounds alternate between the two models so
that load on a shared machine affects both alike; the median over rounds is reported.

Run from the repository root: ``python benchmarks/transformer_throughput.py``. Writes
``transformer_throughput.json`` into ``--out`` (default ``book/back/benchmarks/``, the committed
record).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from llmtheory.device import set_threads
from llmtheory.seeding import seed_everything
from llmtheory.transformer import Transformer, causal_mask

D_MODEL, N_HEADS, N_LAYERS, D_FF = 64, 2, 2, 256
BATCH, SEQ, D_IN, D_OUT = 64, 21, 7, 1
ROUNDS, STEPS_PER_ROUND, WARMUP = 7, 20, 10
RECORD = Path(__file__).resolve().parents[1] / "book" / "back" / "benchmarks"


class TorchEncoderModel(nn.Module):
    """The same model built from :class:`torch.nn.TransformerEncoder` (pre-LN, no dropout)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(D_IN, D_MODEL)
        layer = nn.TransformerEncoderLayer(
            D_MODEL, N_HEADS, D_FF, dropout=0.0, norm_first=True, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, N_LAYERS, norm=nn.LayerNorm(D_MODEL), enable_nested_tensor=False
        )
        self.readout = nn.Linear(D_MODEL, D_OUT)
        self.register_buffer("mask", ~causal_mask(SEQ))  # True = masked out, torch's convention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.encoder(self.embed(x), mask=self.mask, is_causal=True))


def make_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """One training step of ``model`` (forward, MSE loss, backward, Adam update)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def steps_per_second(step, n: int) -> float:
    """Time ``n`` calls of ``step``."""
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return n / (time.perf_counter() - t0)


def main(out: Path = RECORD) -> dict:
    set_threads(1)
    seed_everything(0)
    x = torch.randn(BATCH, SEQ, D_IN)
    y = torch.randn(BATCH, SEQ, D_OUT)
    models = {
        "llmtheory.transformer.Transformer": Transformer(
            D_MODEL, N_HEADS, N_LAYERS, D_FF, d_in=D_IN, d_out=D_OUT, causal=True, norm="pre"
        ),
        "torch.nn.TransformerEncoder": TorchEncoderModel(),
    }
    steps = {name: make_step(m.train(), x, y) for name, m in models.items()}
    for step in steps.values():
        steps_per_second(step, WARMUP)
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(ROUNDS):
        for name, step in steps.items():
            rates[name].append(steps_per_second(step, STEPS_PER_ROUND))
    rows = []
    for name, model in models.items():
        r = np.array(rates[name])
        rows.append({
            "model": name,
            "parameters": sum(p.numel() for p in model.parameters()),
            "steps_per_s_median": round(float(np.median(r)), 2),
            "steps_per_s_min": round(float(r.min()), 2),
            "steps_per_s_max": round(float(r.max()), 2),
            "ms_per_step_median": round(1000 / float(np.median(r)), 3),
        })  # fmt: skip
    ratio = rows[0]["steps_per_s_median"] / rows[1]["steps_per_s_median"]
    result = {
        "title": "Training throughput at chapter 2's size (one thread, forward + backward + Adam)",
        "rows": rows,
        "notes": (
            f"d_model {D_MODEL}, {N_HEADS} heads, {N_LAYERS} pre-LN layers, d_ff {D_FF}, "
            f"batch {BATCH}, {SEQ} tokens of dimension {D_IN}, causal mask, no dropout; "
            f"median of {ROUNDS} alternating rounds of {STEPS_PER_ROUND} steps. "
            f"Speed ratio ours / torch = {ratio:.3f}. torch {torch.__version__}, "
            f"{platform.processor() or platform.machine()}."
        ),
    }
    print(f"{'model':36s} {'params':>7s} {'steps/s':>9s} {'ms/step':>8s}")
    for row in rows:
        print(
            f"{row['model']:36s} {row['parameters']:7d} {row['steps_per_s_median']:9.1f} "
            f"{row['ms_per_step_median']:8.2f}"
        )
    print(result["notes"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "transformer_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RECORD, help="folder for the JSON file")
    main(parser.parse_args().out)
