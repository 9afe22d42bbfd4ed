"""Argument checks shared by the lesson modules.

Each raises TypeError (wrong kind of value) or ValueError (right kind, wrong value) with a
message that names the argument, so a slip shows up at the call and not deep inside NumPy or
TensorFlow.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _kind(value) -> str:
    return type(value).__name__


def check_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking it is an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_kind(value)} {value!r}")
    if value < minimum:
        rule = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {rule}, got {value}")
    return int(value)


def check_seed(value, name: str = "seed") -> int:
    """Return a random seed after checking it is an int >= 0."""
    return check_int(name, value, 0)


def check_number(name: str, value, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float after checking it is a finite real number in the range.

    ``low``/``high`` are inclusive bounds unless ``low_open``/``high_open``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_kind(value)} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value}")
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and (v >= high if high_open else v > high)
    if too_low or too_high:
        left = "any" if low is None else ("(" if low_open else "[") + f"{low:g}"
        right = "any" if high is None else f"{high:g}" + (")" if high_open else "]")
        if low is not None and high is None:
            rule = f"> {low:g}" if low_open else f">= {low:g}"
        elif high is not None and low is None:
            rule = f"< {high:g}" if high_open else f"<= {high:g}"
        else:
            rule = f"in {left}, {right}"
        raise ValueError(f"{name} must be {rule}, got {value}")
    return v


def check_bool(name: str, value) -> bool:
    """Return ``value`` after checking it is True or False (not 0/1, not a string)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_kind(value)} {value!r}")
    return bool(value)


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` after checking it is a string among ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(map(str, choices))}; "
                        f"got {_kind(value)} {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(map(str, choices))}")
    return value


def check_str(name: str, value) -> str:
    """Return ``value`` after checking it is a non-empty string."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {_kind(value)} {value!r}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def check_array(name: str, value, ndim: int | tuple[int, ...] | None = None,
                allow_empty: bool = False, finite: bool = True) -> np.ndarray:
    """Return ``value`` as a NumPy array (dtype unchanged) after checking it.

    It must hold real numbers (booleans count as 0/1 only where ``finite`` is False); with
    ``ndim`` it must have that many dimensions (or one of several); unless ``allow_empty`` it
    must hold at least one value; with ``finite`` no NaN or inf.
    """
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {_kind(value)}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers (rows of one "
                         "length)") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers, got complex values")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got shape {array.shape}")
    if not allow_empty and array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if finite and array.dtype != np.bool_ and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


SPLIT_FIELDS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def check_split(value, name: str = "data", need_val: bool = True, need_test: bool = False):
    """Return ``value`` after checking it is a :class:`data.Split` (or has its six arrays).

    Every array must be numeric and finite (NaN labels would train silently into NaN
    weights); the training part must be non-empty; x and y of each part equally long; with
    ``need_val`` / ``need_test`` those parts non-empty too.
    """
    missing = [f for f in SPLIT_FIELDS if not hasattr(value, f)]
    if missing:
        raise TypeError(f"{name} must be a data.Split (x_train, y_train, x_val, y_val, x_test, "
                        f"y_test), got {_kind(value)}")
    for part, needed in (("train", True), ("val", need_val), ("test", need_test)):
        xs = check_array(f"{name}.x_{part}", getattr(value, f"x_{part}"), ndim=(1, 2),
                         allow_empty=not needed)
        ys = check_array(f"{name}.y_{part}", getattr(value, f"y_{part}"), ndim=(1, 2),
                         allow_empty=not needed)
        if len(xs) != len(ys):
            raise ValueError(f"{name}.x_{part} and {name}.y_{part} must be equally long, got "
                             f"{len(xs)} and {len(ys)}")
    return value
