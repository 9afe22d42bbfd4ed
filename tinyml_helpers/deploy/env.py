"""Reproducible, quiet TensorFlow set-up shared by every lesson.

Call :func:`setup` once at the top of a notebook, *before* anything imports TensorFlow.
It pins the Keras 2 implementation (tfmot does not work with Keras 3), seeds every random
number generator, turns on deterministic ops and keeps TensorFlow's start-up chatter out of
the cell outputs, so a notebook prints the same thing on every run, on any x86-64 CPU.

Why the CPU matters: even with ``TF_ENABLE_ONEDNN_OPTS=0``, TensorFlow's float MatMul on x86
reaches oneDNN's sgemm (through Eigen's contraction kernel), and oneDNN picks its kernel by
the vector instructions the CPU has (SSE4.1, AVX, AVX2, AVX-512). Each kernel adds the
products in another order, so the trained weights differ in their last bits, and after a few
hundred training steps the printed accuracies differ too. Capping oneDNN at SSE4.1, which
every x86-64 CPU that runs TensorFlow has, makes every such CPU run the same kernel.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import warnings

import numpy as np

DEFAULT_SEED = 42

# Set before TensorFlow is first imported; afterwards they have no effect.
_TF_ENV = {
    "TF_USE_LEGACY_KERAS": "1",  # tf.keras -> tf_keras (Keras 2), which tfmot needs
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ INFO/WARNING/ERROR logs off
    "TF_ENABLE_ONEDNN_OPTS": "0",  # oneDNN changes float rounding between CPUs
    "CUDA_VISIBLE_DEVICES": "-1",  # everything here is CPU-sized; skip GPU probing
}

# Forced (not defaults): another value set outside would change the numbers a lesson prints.
# oneDNN reads it once, at its first call; on arm64 it has no effect (other kernels run).
PINNED_ENV = {
    "ONEDNN_MAX_CPU_ISA": "SSE41",  # the same matmul kernel on every x86-64 CPU
}


def in_colab() -> bool:
    """Return True when running inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


@contextlib.contextmanager
def quiet_stderr():
    """Silence writes to the OS-level stderr (file descriptor 2) inside the block.

    TensorFlow prints some start-up lines from C++ straight to fd 2, past Python's
    ``sys.stderr`` and past TF_CPP_MIN_LOG_LEVEL; redirecting the descriptor is the only
    way to keep them out of notebook outputs.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (some embedded consoles): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _check_keras_choice() -> None:
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise RuntimeError(
            "TensorFlow was imported before tinyml_helpers.deploy.env.setup(); tfmot then sees "
            "Keras 3. Restart the runtime and call env.setup() before importing tensorflow."
        )


def import_tf():
    """Return the ``tensorflow`` module, imported quietly with the course's settings."""
    _check_keras_choice()
    for key, value in _TF_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.update(PINNED_ENV)
    with quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # absl ships with TF; guard only for exotic installs
        pass
    return tf


def set_seed(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy and (if imported) TensorFlow so runs repeat exactly."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be a non-negative int below 2**32, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].keras.utils.set_random_seed(seed)


def setup(seed: int = DEFAULT_SEED, tensorflow: bool = True):
    """Prepare a deterministic, quiet session; return the tensorflow module (or None).

    With ``tensorflow=False`` only Python and NumPy are seeded, for lessons that need no TF.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be a non-negative int below 2**32, got {seed!r}")
    if not isinstance(tensorflow, bool):
        raise TypeError(f"tensorflow must be True or False, got {tensorflow!r}")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    tf = None
    if tensorflow:
        tf = import_tf()
        # Deterministic kernels: the same seed gives the same weights and losses every run.
        tf.config.experimental.enable_op_determinism()
    set_seed(seed)
    return tf
