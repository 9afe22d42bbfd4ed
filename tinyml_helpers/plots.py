"""Matplotlib figures used by several lessons."""

from __future__ import annotations

import numpy as np

from . import checks


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, plt):
    """Return ``ax``, or new axes when it is None; refuse anything that is not axes."""
    if ax is None:
        return plt.subplots(figsize=(8, 4))[1]
    if not hasattr(ax, "plot") or not hasattr(ax, "scatter"):
        raise TypeError(f"ax must be Matplotlib axes (e.g. from plt.subplots()), got "
                        f"{type(ax).__name__}")
    return ax


def plot_split(data, ax=None):
    """Scatter the train / validation / test points of a sine :class:`Split`; return the axes."""
    checks.check_split(data, "data")
    plt = _plt()
    ax = _axes(ax, plt)
    for (x, y), label, color in (
        ((data.x_train, data.y_train), "train", "tab:blue"),
        ((data.x_val, data.y_val), "validation", "tab:orange"),
        ((data.x_test, data.y_test), "test", "tab:red"),
    ):
        ax.scatter(x, y, s=6, label=f"{label} ({len(x)})", color=color, alpha=0.7)
    _sine_axes(ax)
    ax.set_title("Noisy samples of sin(x), split 60/20/20")
    ax.legend(loc="upper right")
    return ax


def plot_history(history, ax=None, skip: int = 10):
    """Plot training and validation loss per epoch (log scale), skipping the first epochs."""
    skip = checks.check_int("skip", skip, 0)
    hist = getattr(history, "history", history)
    if not isinstance(hist, dict) or "loss" not in hist:
        raise TypeError(f"history must be what model.fit returns (or its .history dict with a "
                        f"'loss' list), got {type(history).__name__}")
    checks.check_array("history['loss']", hist["loss"], ndim=1, finite=False)
    if hist.get("val_loss") is not None:
        checks.check_array("history['val_loss']", hist["val_loss"], ndim=1, allow_empty=True,
                          finite=False)
        if len(hist["val_loss"]) > len(hist["loss"]):
            raise ValueError("history has more val_loss than loss values")
    plt = _plt()
    ax = _axes(ax, plt)
    epochs = np.arange(1, len(hist["loss"]) + 1)
    ax.plot(epochs[skip:], hist["loss"][skip:], label="training loss")
    if hist.get("val_loss"):
        # With validation_freq = k, Keras validates after epochs k, 2k, 3k, ...
        every = len(hist["loss"]) // len(hist["val_loss"])
        val_epochs = np.arange(every, len(hist["loss"]) + 1, every)
        keep = val_epochs > skip
        ax.plot(val_epochs[keep], np.asarray(hist["val_loss"])[keep], label="validation loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_title(f"Loss per epoch (first {skip} epochs left out)" if skip else "Loss per epoch")
    ax.legend()
    return ax


def plot_predictions(x, y, predictions: dict, ax=None, title: str = "Predictions vs truth"):
    """Scatter data (x, y) with one line per entry of ``predictions`` {label: (x, y_hat)}."""
    x, y = checks.check_array("x", x), checks.check_array("y", y)
    if x.size != y.size:
        raise ValueError(f"x and y must hold as many values, got {x.size} and {y.size}")
    if not isinstance(predictions, dict):
        raise TypeError(f"predictions must be a dict {{label: (x, y_hat)}}, got "
                        f"{type(predictions).__name__}")
    for label, pair in predictions.items():
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"predictions[{label!r}] must be an (x, y_hat) pair")
        px = checks.check_array(f"predictions[{label!r}] x", pair[0])
        py = checks.check_array(f"predictions[{label!r}] y_hat", pair[1])
        if px.size != py.size:
            raise ValueError(f"predictions[{label!r}]: x and y_hat must hold as many values, "
                             f"got {px.size} and {py.size}")
    title = checks.check_str("title", title)
    plt = _plt()
    ax = _axes(ax, plt)
    ax.scatter(np.ravel(x), np.ravel(y), s=6, color="tab:gray", alpha=0.6, label="data")
    grid = np.linspace(0, 2 * np.pi, 200)
    ax.plot(grid, np.sin(grid), color="black", lw=1, ls="--", label="sin(x)")
    for label, (px, py) in predictions.items():
        order = np.argsort(np.ravel(px))
        ax.plot(np.ravel(px)[order], np.ravel(py)[order], lw=2, label=label)
    _sine_axes(ax)
    ax.set_title(title)
    ax.legend(loc="upper right")
    return ax


def _sine_axes(ax) -> None:
    ax.set_xlabel("x (radians)")
    ax.set_ylabel("y")
    ax.set_xticks(np.arange(0, 2 * np.pi + 0.01, np.pi / 2))
    ax.set_xticklabels(["0", "π/2", "π", "3π/2", "2π"])
    ax.grid(alpha=0.3)
