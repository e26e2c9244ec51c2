"""Train the in-context linear-regression transformer of chapter 2 and save its weights.

The chapter (book/part1_universal_approximation/02_icl_context_parameters.ipynb) trains a
short run live and loads the weights this script writes for the long run. Reproduce them:

    python scripts/train_icl_transformer.py            # GPU if present, else CPU

The shipped weights took about 4.5 minutes on one NVIDIA H100 (30,000 steps of batch 256);
on a CPU expect hours. A GPU run does not reproduce the file bit for bit (the checksum
guards the shipped file against corruption), but it reproduces the error curve.

Uses llmtheory.device.get_device(), so a GPU is used when there is one. Writes
book/part1_universal_approximation/weights/icl_transformer.pt and records its SHA-256 and
size in the manifest lib/llmtheory/data/shipped.json (llmtheory.resources.record_shipped),
against which the chapter's llmtheory.resources.shipped_path verifies it before loading.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from llmtheory.device import get_device
from llmtheory.icl import (
    ICL_WEIGHTS,
    example_query_predict,
    least_squares_prefix,
    make_icl_transformer,
    prefix_error,
    sample_linear_regression,
    save_icl_transformer,
)
from llmtheory.resources import MANIFEST_RELPATH, record_shipped
from llmtheory.seeding import seed_everything
from llmtheory.training import train

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Parse the options, train, evaluate against least squares and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=5, help="task dimension")
    parser.add_argument("--n-points", type=int, default=11, help="examples per prompt")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--d-ff", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / ICL_WEIGHTS)
    args = parser.parse_args()

    rng = seed_everything(args.seed)
    device = get_device()
    gen = torch.Generator(device=device).manual_seed(int(rng.integers(2**31)))
    arch = {"d_model": args.d_model, "n_heads": args.heads, "n_layers": args.layers}
    model = make_icl_transformer(args.d, d_ff=args.d_ff, **arch).to(device)

    def batch_fn(_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y, _ = sample_linear_regression(
            args.batch, args.n_points, args.d, generator=gen, x_dist="gaussian"
        )
        return x, y

    def loss_fn(m: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return ((example_query_predict(m, x, y) - y) ** 2).mean() / args.d

    start = time.perf_counter()
    history = train(
        model, batch_fn, loss_fn, steps=args.steps, lr=args.lr, schedule="onecycle", desc="ICL"
    )
    seconds = time.perf_counter() - start

    x, y, _ = sample_linear_regression(
        4096, args.n_points, args.d, generator=gen, x_dist="gaussian"
    )
    with torch.no_grad():
        err = prefix_error(example_query_predict(model, x, y), y, args.d).cpu()
    ls = prefix_error(least_squares_prefix(x.double(), y.double()), y.double(), args.d).cpu()
    print(f"trained {args.steps} steps on {device} in {seconds:.0f} s")
    print("k          ", list(range(args.n_points)))
    print("transformer", [round(float(e), 4) for e in err])
    print("least sq.  ", [round(float(e), 4) for e in ls])
    config = {
        "d": args.d,
        "d_ff": args.d_ff,
        **arch,
        "n_points": args.n_points,
        "steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "device": str(device),
        "train_seconds": round(seconds, 1),
        "final_train_loss": float(history.loss[-100:].mean()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    digest = save_icl_transformer(model, config, args.out)
    print(f"wrote {args.out} (sha256 {digest})")
    if args.out.resolve() == (ROOT / ICL_WEIGHTS).resolve():
        record_shipped(args.out, root=ROOT)
        print(f"recorded it in {MANIFEST_RELPATH}")


if __name__ == "__main__":
    main()
