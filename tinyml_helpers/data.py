"""Data sets generated on the spot (no downloads): the noisy sine wave of lesson 01."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .checks import check_array, check_int, check_number, check_seed

TWO_PI = 2.0 * math.pi
# Largest sine data set made at once: 10 million samples take about 0.3 GB while being drawn.
MAX_SAMPLES = 10_000_000


@dataclass(frozen=True)
class Split:
    """Train / validation / test arrays, each of shape (n, 1) for one input and one output."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> tuple[int, int, int]:
        """Return the number of samples in (train, validation, test)."""
        return len(self.x_train), len(self.x_val), len(self.x_test)


def _check_count(name: str, value) -> int:
    return check_int(name, value, 1)


def sine_samples(
    num_samples: int = 1000, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y): x uniform in [0, 2π], y = sin(x) + Gaussian noise of std ``noise``."""
    num_samples = _check_count("num_samples", num_samples)
    if num_samples > MAX_SAMPLES:
        raise ValueError(f"num_samples must be at most {MAX_SAMPLES:,}, got {num_samples:,}")
    noise = check_number("noise", noise, low=0.0)
    rng = np.random.default_rng(check_seed(seed))
    x = rng.uniform(0.0, TWO_PI, size=num_samples).astype(np.float32)
    # sin in float64: NumPy's float32 sin takes a faster path on CPUs with AVX2 and rounds
    # differently there, which would make the data set depend on the computer.
    y = np.sin(x.astype(np.float64)) + noise * rng.standard_normal(num_samples)
    y = y.astype(np.float32)
    return x, y


def split_sizes(num_samples: int, fractions=(0.6, 0.2, 0.2)) -> tuple[int, int, int]:
    """Return (train, validation, test) counts for ``fractions`` of ``num_samples``."""
    num_samples = _check_count("num_samples", num_samples)
    if isinstance(fractions, (str, bytes)) or not hasattr(fractions, "__len__"):
        raise TypeError(f"fractions must be 3 numbers (train, val, test), got "
                        f"{type(fractions).__name__} {fractions!r}")
    if len(fractions) != 3:
        raise ValueError(f"fractions needs 3 values (train, val, test), got {len(fractions)}")
    fractions = tuple(check_number(f"fractions[{i}]", f, low=0.0)
                      for i, f in enumerate(fractions))
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
        raise ValueError(f"fractions must sum to 1, got {tuple(fractions)} (sum {sum(fractions)})")
    sizes = _sizes(num_samples, fractions)
    if not _usable(sizes, fractions):
        hint = ""
        for more in range(num_samples + 1, num_samples + 10_001):
            bigger = _sizes(more, fractions)
            if _usable(bigger, fractions):
                hint = f" ({more} samples would give {bigger[0]}, {bigger[1]}, {bigger[2]})"
                break
        raise ValueError(f"num_samples={num_samples} is too few for fractions {fractions}: "
                         f"after rounding, train would get {sizes[0]}, validation {sizes[1]} "
                         f"and test {sizes[2]} samples, but every part with a fraction above "
                         f"0 needs at least one; use more samples{hint}, or fraction 0 for a "
                         "part you do not want")
    return sizes


def _usable(sizes: tuple[int, int, int], fractions: tuple) -> bool:
    """Return True if no part is negative and every part asked for (fraction > 0) is not
    empty."""
    return all(n > 0 or (n == 0 and f == 0) for n, f in zip(sizes, fractions, strict=True))


def _sizes(num_samples: int, fractions: tuple) -> tuple[int, int, int]:
    n_train = round(fractions[0] * num_samples)
    n_val = round(fractions[1] * num_samples)
    return n_train, n_val, num_samples - n_train - n_val


def split(x: np.ndarray, y: np.ndarray, fractions=(0.6, 0.2, 0.2)) -> Split:
    """Split already-shuffled samples into train/validation/test, in that order."""
    x = check_array("x", x, ndim=(1, 2))
    y = check_array("y", y, ndim=(1, 2))
    for name, a in (("x", x), ("y", y)):
        if a.ndim == 2 and a.shape[1] != 1:
            raise ValueError(f"{name} must hold one value per sample (shape (n,) or (n, 1)), "
                             f"got shape {a.shape}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    n_train, n_val, _ = split_sizes(len(x), fractions)
    cut1, cut2 = n_train, n_train + n_val
    # Keras wants one row per sample and one column per feature: shape (n, 1).
    parts = [a.reshape(-1, 1) for a in (x[:cut1], y[:cut1], x[cut1:cut2], y[cut1:cut2],
                                         x[cut2:], y[cut2:])]
    return Split(*parts)


def sine_dataset(
    num_samples: int = 1000, noise: float = 0.1, fractions=(0.6, 0.2, 0.2), seed: int = 0
) -> Split:
    """Return the lesson-01 sine data set, split 60/20/20 by default."""
    x, y = sine_samples(num_samples, noise, seed)
    return split(x, y, fractions)


def mse_vs_sin(prediction, x) -> float:
    """Return mean((prediction - sin(x))**2), the error of predictions against the true sine.

    ``prediction`` and ``x`` may be (n,) or (n, 1); lessons 03 to 05 all measure with it.
    """
    prediction = check_array("prediction", prediction)
    x = check_array("x", x)
    prediction, x = np.ravel(prediction), np.ravel(x)
    if prediction.shape != x.shape:
        raise ValueError(f"prediction and x differ in size: {prediction.size} vs {x.size}")
    return float(np.mean((prediction - np.sin(x)) ** 2))
