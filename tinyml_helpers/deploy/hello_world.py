"""What the hello-world sketches compute, shared by every form of them (C, TFLM, MicroPython):
the x values of one period, the int8 prediction for each, the pins their LED is on.

The tests and the lessons compare what a board prints with :func:`int8_predictions`.
"""

from __future__ import annotations

import numpy as np

from . import quant
from .dense import Int8Model, int8_reference

STEPS = 20  # x values per sine period, as in the TFLM hello_world
DELAY_MS = 100  # pause between inferences: one period every 2 s, an LED fade you can see
ESP32_LED_PIN = "2"
UNO_LED_PIN = "11"  # PWM on Timer2; LED_BUILTIN (13) has no PWM on the Uno


def sketch_x(steps: int = STEPS) -> np.ndarray:
    """Return the float32 x values the sketches compute: 2π·step/steps, as the C code does."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"steps must be an int, got {type(steps).__name__} {steps!r}")
    if not 0 < steps <= 100_000:
        raise ValueError(f"steps must be in 1..100000, got {steps}")
    x_range = np.float32(2.0) * np.float32(np.pi)
    return np.array([(x_range * np.float32(i)) / np.float32(steps) for i in range(steps)],
                    dtype=np.float32)


def int8_predictions(model: Int8Model, x) -> np.ndarray:
    """Return the int8 sketch's y for float32 ``x``: lroundf(x / scale) in float32, as the
    sketch computes it, then TFLM's arithmetic."""
    if not isinstance(model, Int8Model):
        raise TypeError(f"model must be an Int8Model, got {type(model).__name__}")
    x = quant.check_finite("x", x)
    if x.ndim != 1 or not len(x):
        raise ValueError(f"x must be a non-empty 1-D array of x values, got shape {x.shape}")
    codes = model.quantize(x.astype(np.float32))
    out = int8_reference(model, codes[:, None])[:, 0].astype(np.float32)
    return np.float32(model.output_scale) * (out - np.float32(model.output_zero_point))
