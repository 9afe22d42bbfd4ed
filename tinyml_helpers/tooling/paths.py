"""The course checkout's folders, in one place: the deploy core takes every path as an argument,
and the tests, benchmarks and the build hand it these.

The vendored tarballs (esp-tflite-micro, esp-nn, CMSIS-NN) sit in ``../shared/vendor`` beside
the repository; TFLM builds are cached in ``build/tflm``. ``TFLM_SRC=``, ``TFLM_CACHE=``,
``ESP_VENDOR_DIR=`` and ``CMSIS_NN_VENDOR_DIR=`` still take the place of these where the core
reads them.
"""

from __future__ import annotations

from ..deploy import cmsis_nn, esp_nn, tflm_build
from .course import ROOT

REPO = ROOT  # the checkout (the folder holding pyproject.toml)
VENDOR_DIR = REPO.parent / "shared" / "vendor"
TFLM_TARBALL = VENDOR_DIR / "esp-tflite-micro-1.4.0.tar.xz"  # what the arduino-esp32 3.x core ships
MICROPYTHON_TARBALL = VENDOR_DIR / "micropython-1.27.0.tar.xz"  # deploy.micropython_qemu builds it
BUILD_DIR = REPO / "build"
TFLM_CACHE = BUILD_DIR / "tflm"
ARDUINO_DIR = REPO / "arduino"
SKETCH_DIR = ARDUINO_DIR / "hello_world_tflm"  # the committed TFLM sketch
TFLM_MODEL = SKETCH_DIR / "sine_int8_per_tensor.tflite"  # the model it is generated from


def tflm_source():
    """Return the TFLM :class:`~tinyml_helpers.deploy.tflm_build.Source` the course builds
    against (the vendored esp-tflite-micro, unpacked once into :data:`TFLM_CACHE`; or
    ``$TFLM_SRC``)."""
    return tflm_build.source(TFLM_TARBALL, cache=TFLM_CACHE)


def esp_vendor():
    """Return the vendored trees :mod:`~tinyml_helpers.deploy.esp_nn` builds from (or
    ``$ESP_VENDOR_DIR``), cached in :data:`TFLM_CACHE`."""
    return esp_nn.Vendor(VENDOR_DIR, TFLM_CACHE)


def cmsis_vendor():
    """Return the vendored trees :mod:`~tinyml_helpers.deploy.cmsis_nn` builds from (or
    ``$CMSIS_NN_VENDOR_DIR``), cached in :data:`TFLM_CACHE`."""
    return cmsis_nn.Vendor(VENDOR_DIR, TFLM_CACHE)
