"""One training loop for every chapter that trains a torch model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .progress import progress

__all__ = ["TrainHistory", "train"]

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]


@dataclass
class TrainHistory:
    """Loss after every step and the values a callback returned every ``eval_every`` steps."""

    loss: np.ndarray
    eval_steps: list[int] = field(default_factory=list)
    evals: list[Any] = field(default_factory=list)


def train(
    model: torch.nn.Module,
    batch_fn: Callable[[int], Any],
    loss_fn: LossFn,
    *,
    steps: int,
    lr: float,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    schedule: str = "constant",
    grad_clip: float | None = None,
    parameters: list[torch.nn.Parameter] | None = None,
    eval_fn: Callable[[torch.nn.Module, int], Any] | None = None,
    eval_every: int = 0,
    desc: str | None = None,
) -> TrainHistory:
    """Minimise ``loss_fn(model, batch_fn(step))`` for ``steps`` steps with torch's optimisers.

    Parameters
    ----------
    model
        The module to train (switched to train mode, then back to eval mode at the end).
    batch_fn
        Returns the batch for a step; called with the step index.
    loss_fn
        Maps ``(model, batch)`` to a scalar loss tensor.
    steps, lr
        Number of optimiser steps (> 0) and (peak) learning rate (> 0).
    optimizer
        ``"adam"``, ``"adamw"`` or ``"sgd"``.
    schedule
        ``"constant"``, ``"onecycle"`` (:class:`torch.optim.lr_scheduler.OneCycleLR`)
        or ``"cosine"`` (:class:`torch.optim.lr_scheduler.CosineAnnealingLR`).
    grad_clip
        Clip the global gradient norm to this value when given.
    parameters
        Train only these parameters (e.g. LoRA adapters); default: all of ``model``'s.
    eval_fn, eval_every
        When both are given, ``eval_fn(model, step)`` is recorded before the first step,
        every ``eval_every`` steps and after the last step (under ``torch.no_grad``).
    desc
        Label of the progress bar.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be non-negative, got {weight_decay!r}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be positive or None, got {grad_clip!r}")
    if eval_every < 0:
        raise ValueError(f"eval_every must be non-negative, got {eval_every!r}")
    params = list(model.parameters()) if parameters is None else list(parameters)
    if not params:
        raise ValueError("parameters must contain at least one tensor to train")
    opt = _make_optimizer(optimizer, params, lr, weight_decay)
    sched = _make_schedule(schedule, opt, lr, steps)

    history = TrainHistory(loss=np.empty(steps))
    record = eval_fn is not None and eval_every > 0

    def evaluate(step: int) -> None:
        model.eval()
        with torch.no_grad():
            history.evals.append(eval_fn(model, step))
        history.eval_steps.append(step)
        model.train()

    model.train()
    if record:
        evaluate(0)
    for step in progress(range(steps), total=steps, desc=desc):
        loss = loss_fn(model, batch_fn(step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()
        if sched is not None:
            sched.step()
        history.loss[step] = loss.item()
        if record and ((step + 1) % eval_every == 0 or step + 1 == steps):
            evaluate(step + 1)
    model.eval()
    return history


def _make_optimizer(
    name: str, params: list[torch.nn.Parameter], lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd', got {name!r}")


def _make_schedule(
    name: str, opt: torch.optim.Optimizer, lr: float, steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    if name == "constant":
        return None
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    raise ValueError(f"schedule must be 'constant', 'onecycle' or 'cosine', got {name!r}")
