"""Train multi-layer linear self-attention and a noisy-label transformer for chapter 2.

Chapter 2 (book/part1_universal_approximation/02_icl_context_parameters.ipynb) compares
linear self-attention with L = 1, 2, 3 layers, trained on in-context linear regression
(d = N = 10, x ~ U(-1, 1)^d), with L steps of GD and of GD++ (von Oswald et al. 2023), and a
transformer trained on noisy labels (d = 5, sigma = 0.5) with ridge regression. Neither fits
the chapter's time budget on a CPU, so this script trains them and the chapter checks them:

    python scripts/train_multilayer_lsa.py            # GPU if present, else CPU

Writes multilayer_lsa.json (the LSA weights and the training set-up) and
icl_noisy_transformer.pt (llmtheory.icl.save_icl_transformer) into --out-dir, prints their
SHA-256 digests and, for the default folder, records them in the manifest
lib/llmtheory/data/shipped.json, against which the chapter's shipped_path verifies them.
The shipped files come from the defaults below on one CPU core (about 20 minutes for the LSA
stacks and 11 for the transformer on a shared machine); a rerun elsewhere reproduces the
losses, not the files bit for bit.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from llmtheory.device import get_device
from llmtheory.icl import (
    MultiLayerLSA,
    example_query_predict,
    make_icl_transformer,
    sample_linear_regression,
    sample_noisy_linear_regression,
    save_icl_transformer,
    sha256_file,
)
from llmtheory.resources import MANIFEST_RELPATH, record_shipped
from llmtheory.seeding import seed_everything
from llmtheory.training import train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "part1_universal_approximation" / "weights"


def lean_lsa(params: torch.Tensor, x: torch.Tensor, y: torch.Tensor, n: int) -> torch.Tensor:
    """The forward pass of MultiLayerLSA without argument checks (fast on a GPU)."""
    xq = x[:, n]
    ctx = torch.cat([x[:, :n], y[:, :n, None]], -1)
    t = torch.cat([ctx, torch.cat([xq, torch.zeros_like(xq[:, :1])], -1)[:, None]], 1)
    for w_k, w_q, w_v, p in params:
        c = t[:, :n]
        t = t + ((t @ w_q.T) @ (c @ w_k.T).transpose(1, 2)) @ (c @ w_v.T) @ p.T
    return -t[:, -1, -1]


def train_lsa(args: argparse.Namespace, device: torch.device, rng) -> dict:
    """Train ``args.restarts`` models per depth; keep the best on validation prompts."""
    d, n = args.d, args.n_context
    val_gen = torch.Generator(device=device).manual_seed(int(rng.integers(2**31)))
    x_v, y_v, _ = sample_linear_regression(8192, n + 1, d, generator=val_gen)
    results = {}
    for n_layers in args.depths:
        runs = []
        for restart in range(args.restarts):
            gen = torch.Generator(device=device).manual_seed(int(rng.integers(2**31)))
            init = args.init_scale * torch.randn(
                n_layers, 4, d + 1, d + 1, generator=gen, device=device
            )
            params = torch.nn.Parameter(init)
            holder = torch.nn.Module()
            holder.params = params

            def batch_fn(_step: int, gen=gen):
                return sample_linear_regression(args.batch, n + 1, d, generator=gen)[:2]

            def loss_fn(m, batch):
                x, y = batch
                return 0.5 * ((lean_lsa(m.params, x, y, n) - y[:, n]) ** 2).mean()

            start = time.perf_counter()
            hist = train(
                holder,
                batch_fn,
                loss_fn,
                steps=args.steps,
                lr=args.lr,
                schedule="onecycle",
                desc=f"LSA L={n_layers} run {restart}",
            )
            with torch.no_grad():
                val = float(loss_fn(holder, (x_v, y_v)))
            print(
                f"L={n_layers} restart {restart}: validation loss {val:.4f} "
                f"({time.perf_counter() - start:.0f} s)"
            )
            runs.append((val, params.detach().cpu(), float(hist.loss[-200:].mean())))
        val, params, train_loss = min(runs, key=lambda r: r[0])
        names = ("W_K", "W_Q", "W_V", "P")
        results[str(n_layers)] = {
            "layers": [
                {k: p.tolist() for k, p in zip(names, layer, strict=True)} for layer in params
            ],
            "validation_loss": val,
            "validation_losses_all_restarts": [r[0] for r in runs],
            "final_train_loss": train_loss,
        }
        model = MultiLayerLSA(d, n_layers, generator=torch.Generator().manual_seed(0))
        for layer, mats in zip(model.layers, params, strict=True):
            for name, mat in zip(names, mats, strict=True):
                getattr(layer, name).data.copy_(mat)
        with torch.no_grad():
            check = 0.5 * ((model.to(device)(x_v[:, :n], y_v[:, :n], x_v[:, n]) - y_v[:, n]) ** 2)
        print(f"  MultiLayerLSA with these weights: {float(check.mean()):.4f}")
    return results


def train_noisy(args: argparse.Namespace, device: torch.device, rng) -> tuple:
    """Train the chapter's transformer on prompts with noisy labels."""
    gen = torch.Generator(device=device).manual_seed(int(rng.integers(2**31)))
    torch.manual_seed(int(rng.integers(2**31)))
    arch = {"d_model": 64, "n_heads": 2, "n_layers": args.tf_layers, "d_ff": 256}
    model = make_icl_transformer(args.noisy_d, **arch).to(device)

    def batch_fn(_step: int):
        return sample_noisy_linear_regression(
            args.batch_tf, args.noisy_points, args.noisy_d, args.noise_std, generator=gen
        )[:2]

    def loss_fn(m, batch):
        x, y = batch
        return ((example_query_predict(m, x, y) - y) ** 2).mean() / args.noisy_d

    start = time.perf_counter()
    hist = train(
        model,
        batch_fn,
        loss_fn,
        steps=args.steps_tf,
        lr=1e-3,
        schedule="onecycle",
        desc="noisy transformer",
    )
    seconds = time.perf_counter() - start
    config = {
        "d": args.noisy_d,
        **arch,
        "n_points": args.noisy_points,
        "noise_std": args.noise_std,
        "steps": args.steps_tf,
        "batch": args.batch_tf,
        "lr": 1e-3,
        "seed": args.seed,
        "device": str(device),
        "train_seconds": round(seconds, 1),
        "final_train_loss": float(hist.loss[-100:].mean()),
    }
    print(f"noisy transformer: {seconds:.0f} s, final loss {config['final_train_loss']:.4f}")
    return model, config


def main() -> None:
    """Parse the options, train both and write the files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--n-context", type=int, default=10)
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--init-scale", type=float, default=0.05)
    parser.add_argument("--noisy-d", type=int, default=5)
    parser.add_argument("--noisy-points", type=int, default=11)
    parser.add_argument("--noise-std", type=float, default=0.5)
    parser.add_argument("--steps-tf", type=int, default=3000)
    parser.add_argument("--batch-tf", type=int, default=128)
    parser.add_argument("--tf-layers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-tf", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    args = parser.parse_args()

    rng = seed_everything(args.seed)
    device = get_device()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    lsa = train_lsa(args, device, rng)
    blob = {
        "config": {
            "d": args.d,
            "n_context": args.n_context,
            "x_dist": "uniform",
            "restarts": args.restarts,
            "steps": args.steps,
            "batch": args.batch,
            "lr": args.lr,
            "schedule": "onecycle",
            "init_scale": args.init_scale,
            "seed": args.seed,
            "device": str(device),
            "train_seconds": round(time.perf_counter() - start, 1),
        },
        "models": lsa,
    }
    path = args.out_dir / "multilayer_lsa.json"
    path.write_text(json.dumps(blob))
    print(f"wrote {path} (sha256 {sha256_file(path)})")
    if args.out_dir.resolve() == OUT.resolve():
        record_shipped(path, root=ROOT)
    if not args.skip_tf:
        model, config = train_noisy(args, device, rng)
        path = args.out_dir / "icl_noisy_transformer.pt"
        print(f"wrote {path} (sha256 {save_icl_transformer(model, config, path)})")
        if args.out_dir.resolve() == OUT.resolve():
            record_shipped(path, root=ROOT)
            print(f"recorded both files in {MANIFEST_RELPATH}")


if __name__ == "__main__":
    main()
