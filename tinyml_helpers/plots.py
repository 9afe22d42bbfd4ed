"""Matplotlib figures used by several lessons."""

from __future__ import annotations

import functools

import numpy as np

from . import checks
from .models import check_widths
from .sizing import count_params


def _plt():
    # pyplot picks a backend and costs about 0.3 s when imported: only when a plot is drawn.
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
    """Scatter the train / validation / test points of a sine-wave :class:`data.Split`;
    return the axes."""
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


def draw_network(widths=(1, 16, 16, 1), ax=None, max_drawn: int = 16):
    """Draw a dense network as circles (neurons) joined by lines (weights); return the axes.

    Each neuron of a layer connects to every neuron of the next, so each line is one weight.
    The title counts the weights and biases. A layer wider than ``max_drawn`` shows only its
    first and last neurons around a "⋮" (its label keeps the true width).
    """
    from matplotlib.collections import LineCollection


    widths = check_widths(widths)
    max_drawn = checks.check_int("max_drawn", max_drawn, 2)
    plt = _plt()
    if ax is None:
        ax = plt.subplots(figsize=(8, 4.5))[1]
    ax = _axes(ax, plt)
    shown = [min(w, max_drawn) for w in widths]
    tallest = max(shown)
    columns = []
    for w, n in zip(widths, shown, strict=True):
        ys = np.arange(n) - (n - 1) / 2
        if n < w:  # leave a gap in the middle for the "⋮"
            ys = ys + np.where(ys > 0, 0.5, -0.5)
        columns.append(ys * (tallest / (tallest + 1)))
    segments = [[(i, y0), (i + 1, y1)] for i in range(len(widths) - 1)
                for y0 in columns[i] for y1 in columns[i + 1]]
    ax.add_collection(LineCollection(segments, colors="tab:gray", linewidths=0.5, alpha=0.5,
                                     zorder=1))
    last = len(widths) - 1
    for i, (w, ys) in enumerate(zip(widths, columns, strict=True)):
        kind, color = (("input", "tab:blue") if i == 0 else ("output", "tab:green") if i == last
                       else (f"hidden {i}", "tab:orange"))
        ax.scatter(np.full(len(ys), i), ys, s=min(260, 2600 / tallest), color=color,
                   edgecolors="black", linewidths=0.6, zorder=2)
        if len(ys) < w:
            ax.text(i, 0, "⋮", ha="center", va="center", fontsize=14, zorder=3)
        what = "ReLU" if 0 < i < last else "value" if w == 1 else "values"
        ax.text(i, -tallest / 2 - 0.4, f"{kind}\n{w} {what}", ha="center", va="top")
    params = count_params(widths)
    ax.set_title(f"The {'-'.join(map(str, widths))} network: {params:,} weights and biases "
                 f"(one line per weight)")
    ax.set_xlim(-0.5, last + 0.5)
    ax.set_ylim(-tallest / 2 - 2.0, tallest / 2 + 0.5)
    ax.axis("off")
    return ax


def _sine_axes(ax) -> None:
    ax.set_xlabel("x (radians)")
    ax.set_ylabel("y")
    ax.set_xticks(np.arange(0, 2 * np.pi + 0.01, np.pi / 2))
    ax.set_xticklabels(["0", "π/2", "π", "3π/2", "2π"])
    ax.grid(alpha=0.3)


def figure_only(show):
    """Return ``show`` wrapped to return None, for ``ipywidgets.interact``.

    ``interact`` prints its function's return value under the figure on every slider move
    (``0.036497775465250015``, a whole array), which a reader takes for part of the lesson. The
    wrapper keeps ``show``'s name, docstring and signature, from which ``interact`` builds its
    controls; ``show`` itself still returns its value to the cells that call it directly.
    """
    if not callable(show):
        raise TypeError(f"show must be a function that draws a figure, got "
                        f"{type(show).__name__}")

    @functools.wraps(show)
    def draw(*args, **kwargs) -> None:
        show(*args, **kwargs)

    return draw
