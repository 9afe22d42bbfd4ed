"""Helpers shared by the TinyML course notebooks, in three layers.

* ``tinyml_helpers.deploy`` — the deploy core: quantization arithmetic, .tflite reading, the
  LiteRT and TFLM runners, C generation and kernels, the firmware harness and simulated boards,
  toolchains, Arduino/Wokwi project writing. Reusable for any Dense model; it never imports
  the layers above it. Its docstring lists its modules.
* the lesson modules here, what the lessons teach, built on the deploy core (in lesson order):

  * :mod:`checks` — argument checks with messages that name the argument (every module);
  * :mod:`data` — the noisy sine wave of lesson 01, split into train / validation / test;
  * :mod:`models` — small dense networks and a quiet training loop;
  * :mod:`plots` — the Matplotlib figures several lessons share;
  * :mod:`sizing` — parameters, bytes, MACs and activation RAM of a network, against boards (02);
  * :mod:`pruning` — magnitude pruning by hand and with tfmot, neuron removal (03);
  * :mod:`quantization` — fake quantization, the PTQ comparison table and QAT (04);
  * :mod:`distillation` — a small student trained on a big teacher's outputs (05);
  * :mod:`sine_projects` — the sine model as Arduino sketch folders and Wokwi projects (06);
  * :mod:`measurements` — slow measurements stored in ``measured/``, printed by lesson 06;
  * :mod:`fan_recordings` — Shawn Hymel's real ceiling-fan recordings, split by time (07);
  * :mod:`vibration` — simulated accelerometer windows of a ceiling fan and their features (07);
  * :mod:`anomaly` — detectors trained on normal data only, and how they are scored (07);
  * :mod:`fan_detector` — lesson 07's detector in plain C (``fan_c/``), with its NumPy twin;
  * :mod:`digits` — 8x8 handwritten digits, a Dense baseline and a CNN, filter and weight
    pruning, the int8 CNN on the simulated boards (08);
  * :mod:`digits_projects` — lesson 08's CNN as Arduino and Wokwi projects (08);
  * :mod:`exercises` — the checkers of every lesson's exercises.

* ``tinyml_helpers.tooling`` — the repository's own tools (the notebook build behind
  ``make build``, badge sync). Not installed in Colab.

No module imports TensorFlow when it is imported itself, so ``import tinyml_helpers`` is
instant and works where TensorFlow is absent.
"""
