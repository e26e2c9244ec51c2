"""One training loop for every chapter that trains a torch model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .progress import progress
from .validation import (
    check_array,
    check_callable,
    check_choice,
    check_instance,
    check_int,
    check_memory,
    check_scalar,
    check_str,
    describe,
)

__all__ = ["TrainHistory", "train"]

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]


@dataclass
class TrainHistory:
    """Loss after every step and the values a callback returned every ``eval_every`` steps."""

    loss: np.ndarray
    eval_steps: list[int] = field(default_factory=list)
    evals: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_array(self.loss, "loss", ndim=1, finite=False, allow_empty=True)
        for name in ("eval_steps", "evals"):
            if not isinstance(getattr(self, name), list):
                raise TypeError(f"{name} must be a list, got {describe(getattr(self, name))}")


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
    check_instance(model, "model", torch.nn.Module, "a torch.nn.Module")
    check_callable(batch_fn, "batch_fn")
    check_callable(loss_fn, "loss_fn")
    steps = check_int(steps, "steps")
    check_memory(8 * steps, f"the loss history of steps={steps}")
    lr = check_scalar(lr, "lr", minimum=0.0, include_min=False)
    weight_decay = check_scalar(weight_decay, "weight_decay", minimum=0.0)
    optimizer = check_choice(optimizer, "optimizer", _OPTIMIZERS)
    schedule = check_choice(schedule, "schedule", _SCHEDULES)
    if grad_clip is not None:
        grad_clip = check_scalar(grad_clip, "grad_clip", minimum=0.0, include_min=False)
    if eval_fn is not None:
        check_callable(eval_fn, "eval_fn")
    eval_every = check_int(eval_every, "eval_every", 0)
    check_str(desc, "desc", allow_none=True)
    params = _parameters(model, parameters)
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


_OPTIMIZERS = ("adam", "adamw", "sgd")
_SCHEDULES = ("constant", "onecycle", "cosine")


def _parameters(model: torch.nn.Module, parameters: object) -> list[torch.Tensor]:
    """The tensors to train: ``parameters``, or the model's; at least one requires grad."""
    if parameters is None:
        params = list(model.parameters())
        if not any(p.requires_grad for p in params):
            raise ValueError("model has no parameter with requires_grad=True: nothing to train")
        return params
    if isinstance(parameters, torch.Tensor) or not hasattr(parameters, "__iter__"):
        raise TypeError(f"parameters must be a list of tensors or None, got {describe(parameters)}")
    params = list(parameters)
    if not params:
        raise ValueError("parameters must contain at least one tensor to train")
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"parameters must hold tensors, got {describe(p)} at index {i}")
        if not p.is_leaf:
            raise ValueError(
                f"parameters must hold leaf tensors (not results of operations), index {i}"
            )
    if not any(p.requires_grad for p in params):
        raise ValueError("parameters must hold at least one tensor with requires_grad=True")
    return params


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
