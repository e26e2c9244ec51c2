"""Seeding, device selection, progress bars, the plotting style and the training loop."""

import matplotlib as mpl
import numpy as np
import pytest
import torch

from llmtheory.device import get_device, set_threads
from llmtheory.plotting import COLORS, use_book_style
from llmtheory.progress import progress, progress_enabled
from llmtheory.seeding import seed_everything
from llmtheory.training import train


def test_seed_everything_makes_numpy_and_torch_repeatable():
    a = seed_everything(3).normal(size=3), torch.randn(3)
    b = seed_everything(3).normal(size=3), torch.randn(3)
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])


@pytest.mark.parametrize(
    ("seed", "error"), [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error):
        seed_everything(seed)


def test_get_device_defaults_to_what_is_available(monkeypatch):
    monkeypatch.delenv("LLMTHEORY_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected
    assert get_device("cpu").type == "cpu"


def test_get_device_rejects_bad_choices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA"):
        get_device("cuda")
    with pytest.raises(ValueError, match="one of"):
        get_device("tpu")
    with pytest.raises(TypeError):
        get_device(3)


def test_set_threads(monkeypatch):
    before = torch.get_num_threads()
    set_threads(1)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(before)
    with pytest.raises(ValueError):
        set_threads(0)
    with pytest.raises(TypeError):
        set_threads(1.0)


def test_progress_is_quiet_when_told(monkeypatch, capsys):
    monkeypatch.setenv("LLMTHEORY_PROGRESS", "0")
    assert not progress_enabled()
    assert list(progress(range(3), total=3, desc="quiet")) == [0, 1, 2]
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("LLMTHEORY_PROGRESS", "1")
    assert progress_enabled()
    monkeypatch.delenv("LLMTHEORY_PROGRESS")
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled()


def test_progress_rejects_bad_arguments():
    with pytest.raises(ValueError):
        progress(range(3), total=-1)
    with pytest.raises(TypeError):
        progress(range(3), desc=3)


def test_book_style_has_white_background():
    use_book_style()
    assert mpl.rcParams["figure.facecolor"] == "white"
    assert mpl.rcParams["savefig.facecolor"] == "white"
    assert len(COLORS) >= 6


def _regression_problem():
    seed_everything(0)
    x = torch.randn(256, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    model = torch.nn.Linear(3, 1)
    loss = lambda m, batch: torch.nn.functional.mse_loss(m(batch[0]).squeeze(-1), batch[1])  # noqa: E731
    return model, (x, y), loss


@pytest.mark.parametrize("schedule", ["constant", "onecycle", "cosine"])
def test_train_decreases_the_loss_and_records_evals(schedule):
    model, batch, loss = _regression_problem()
    history = train(
        model,
        lambda step: batch,
        loss,
        steps=200,
        lr=0.05,
        schedule=schedule,
        eval_fn=lambda m, step: loss(m, batch).item(),
        eval_every=50,
    )
    assert history.loss[-1] < 0.05 * history.loss[0]
    assert history.eval_steps == [0, 50, 100, 150, 200]
    assert not model.training


def test_train_is_deterministic():
    runs = []
    for _ in range(2):
        model, batch, loss = _regression_problem()
        runs.append(train(model, lambda step, b=batch: b, loss, steps=20, lr=0.01).loss)
    np.testing.assert_array_equal(*runs)


def test_train_only_given_parameters():
    model, batch, loss = _regression_problem()
    bias_before = model.bias.detach().clone()
    train(model, lambda step: batch, loss, steps=5, lr=0.1, parameters=[model.weight])
    assert torch.equal(model.bias, bias_before)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"steps": 0}, ValueError),
        ({"steps": 2.0}, TypeError),
        ({"lr": 0.0}, ValueError),
        ({"optimizer": "lbfgs"}, ValueError),
        ({"schedule": "step"}, ValueError),
        ({"grad_clip": 0.0}, ValueError),
        ({"weight_decay": -1.0}, ValueError),
        ({"parameters": []}, ValueError),
    ],
)
def test_train_rejects_bad_arguments(kwargs, error):
    model, batch, loss = _regression_problem()
    arguments = {"steps": 5, "lr": 0.01} | kwargs
    with pytest.raises(error):
        train(model, lambda step: batch, loss, **arguments)
    with pytest.raises(TypeError):
        train("model", lambda step: batch, loss, steps=5, lr=0.1)


# --------------------------------------------------- reliability review (bad input)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": float("inf")}, ValueError, "lr must be a finite number"),
        ({"lr": float("nan")}, ValueError, "lr must be"),
        ({"eval_every": 2.5}, TypeError, "eval_every must be an int"),
        ({"eval_every": float("nan")}, TypeError, "eval_every must be an int"),
        ({"grad_clip": float("inf")}, ValueError, "grad_clip must be a finite number"),
        ({"optimizer": 3}, TypeError, "optimizer must be a str"),
        ({"eval_fn": "report"}, TypeError, "eval_fn must be callable"),
    ],
)
def test_reliability_6_train_refuses_nonsense(kwargs, error, message):
    model, batch, loss = _regression_problem()
    with pytest.raises(error, match=message):
        train(model, lambda step: batch, loss, **({"steps": 3, "lr": 0.1} | kwargs))


def test_reliability_6_train_refuses_a_model_with_nothing_to_train():
    model, batch, loss = _regression_problem()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad"):
        train(model, lambda step: batch, loss, steps=3, lr=0.1)


@pytest.mark.parametrize(
    ("ci", "quiet"),
    [("false", False), ("0", False), ("", False), ("true", True), ("1", True), ("yes", True)],
)
def test_reliability_10_ci_false_does_not_silence_progress_bars(monkeypatch, ci, quiet):
    """Any non-empty CI value, CI=false included, used to silence the bars."""
    monkeypatch.delenv("LLMTHEORY_PROGRESS", raising=False)
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert progress_enabled() is not quiet
