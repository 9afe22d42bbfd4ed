"""The forward pass of a ReLU MLP in NumPy: the tests' independent reference for the lessons'
Dense models (``models.dense_weights`` gives the (kernel, bias) pairs)."""

from __future__ import annotations

import numpy as np


def forward(pairs, x):
    """Return the output of Dense layers ``pairs`` [(kernel, bias), ...] on ``x``: ReLU after
    every layer but the last."""
    h = x
    for i, (kernel, bias) in enumerate(pairs):
        h = h @ kernel + bias
        h = np.maximum(h, 0) if i < len(pairs) - 1 else h
    return h
