"""Helpers shared by the TinyML course notebooks, in three layers.

* ``tinyml_helpers.deploy`` — the deploy core: quantization arithmetic, .tflite reading, the
  LiteRT and TFLM runners, C generation and kernels, the firmware harness and simulated boards,
  toolchains, Arduino/Wokwi project writing. Reusable for any Dense model; it never imports
  the layers above it.
* the lesson modules here (``data``, ``models``, ``sizing``, ``pruning``, ``quantization``,
  ``distillation``, ``vibration``, ``anomaly``, ``fan_detector``, ``plots``): what the lessons
  teach, built on the deploy core.
* ``tinyml_helpers.tooling`` — the repository's own tools (the notebook build behind
  ``make build``, badge sync). Not installed in Colab.

No module imports TensorFlow when it is imported itself, so ``import tinyml_helpers`` is
instant and works where TensorFlow is absent.
"""
