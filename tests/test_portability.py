"""The course computes the same numbers on any x86-64 CPU.

tests/portability_probe.py runs every CPU-sensitive step of the lessons (NumPy data, training
with TensorFlow, the converter, LiteRT, TFLM, the fan features) once on this machine and once
on an emulated Sandy Bridge CPU (``qemu-x86_64 -cpu SandyBridge``: AVX but no AVX2, FMA or
AVX-512, the oldest CPU TensorFlow's wheels run on). Emulation makes every library see another
CPU, so each picks the kernels it would pick there. The make test's second pass (env
variables that cap oneDNN and NumPy) covers the lessons themselves.
"""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyml_helpers.deploy import toolchains

PROBE = Path(__file__).with_name("portability_probe.py")
CPU = "SandyBridge"
RTOL = 1e-12  # NumPy's BLAS and exp/log: a few units in the last place of a float64


def _probe(prefix: list[str], env: dict | None = None) -> dict:
    run = subprocess.run([*prefix, sys.executable, str(PROBE)], capture_output=True, text=True,
                         timeout=900, check=False,
                         env=None if env is None else {**os.environ, **env})
    assert run.returncode == 0, f"probe failed under {prefix or 'this CPU'}:\n{run.stderr[-3000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def native():
    return _probe([])


@pytest.fixture(scope="module")
def emulated():
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"emulating an x86-64 CPU needs an x86-64 host, this is {platform.machine()}")
    if not toolchains.have("qemu-x86_64"):
        pytest.skip("qemu-x86_64 missing; install with: "
                    + toolchains.install_command(("qemu-user",)))
    # OpenBLAS reads the CPU model from CPUID leaves that QEMU's user-mode CPU models do not
    # all rewrite: on an AMD EPYC host it chose a kernel with instructions a Sandy Bridge lacks
    # (SIGILL in np.cov). Name the core it would detect on a real Sandy Bridge.
    return _probe(["qemu-x86_64", "-cpu", CPU], {"OPENBLAS_CORETYPE": "Sandybridge"})


def test_tensorflow_litert_tflm_and_data_are_bit_identical(native, emulated):
    assert native["digests"].keys() == emulated["digests"].keys()
    assert len(native["digests"]) == 9  # every step of the probe reported
    differ = [key for key in native["digests"]
              if native["digests"][key] != emulated["digests"][key]]
    assert not differ, f"on an emulated {CPU} these steps give other bits: {differ}"


def test_numpy_linear_algebra_and_exp_agree_within_tolerance(native, emulated):
    for key, values in native["values"].items():
        np.testing.assert_allclose(emulated["values"][key], values, rtol=RTOL, atol=0,
                                   err_msg=key)


def test_the_probe_repeats_itself(native):
    assert _probe([]) == native
