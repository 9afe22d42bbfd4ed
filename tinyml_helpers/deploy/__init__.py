"""The deploy core: from a trained model to C on a (simulated) board.

Every module, in the order a model passes through them.

The model a lesson hands over, read and run on this PC:

* :mod:`env` — TensorFlow set up before a lesson trains: quiet, seeded, deterministic, Keras 2.
* :mod:`litert` — converts the Keras model to a .tflite and runs it with LiteRT's interpreter.
* :mod:`tflite_file` — reads the .tflite flatbuffer once and checks it from end to end.
* :mod:`graph` — the checked file as a typed graph of operators (Dense chains, small CNNs).
* :mod:`quant` — the one int8 quantization arithmetic (rounding, Q31 requantization).
* :mod:`dense` — a Dense chain's layers (from Keras or a graph) and its NumPy forward passes.
* :mod:`ops` — NumPy reference kernels for a graph's operators, int8 bit-exact with TFLM.
* :mod:`tflm` — the TFLM runtime (its C++ kernels), the reference for the boards; exact arena.

The model as code for a board:

* :mod:`cgen` — checked C identifiers, literals, banners, include guards, filled templates.
* :mod:`c_model` — generated library-free C as one value: its files and what firmware needs.
* :mod:`export` — the .tflite as a C array for TFLM; a Dense chain as C over ``c/`` kernels.
* :mod:`graph_c` — a full-int8 graph as C over the reference kernels of ``c/tinyml_ops.c`` or the
  fast ones of ``c/tinyml_ops_fast.c``.
* :mod:`self_test` — inputs and TFLM's outputs for them, checked by every sketch at boot.
* :mod:`hello_world` — what the hello-world sketches compute: x values, int8 outputs, LED pins.
* :mod:`micropython` — a full-int8 model as plain-Python MicroPython modules, a Wokwi project.

The code built and run on simulated boards, offline:

* :mod:`toolchains` — installs the Debian toolchains; Uno sketches built and run in simavr.
* :mod:`boards` — the simulated Uno, Cortex-M4F and this PC: compile, run, size, clock.
* :mod:`harness_output` — the strict lines the firmware harness prints, and their parser.
* :mod:`firmware` — generated C inside the harness (``harness/``), run on a simulated board.
* :mod:`tflm_build` — TFLM built from source; any int8 model run under it on this PC or the
  Cortex-M4F, and measured beside the plain C (a package; its docstring lists its modules).
* :mod:`esp_nn` — TFLM built as the ESP32's Arduino core builds it, with ESP-NN's kernels.
* :mod:`cmsis_nn` — TFLM built with Arm's CMSIS-NN kernels: TFLM at its best on a Cortex-M.
* :mod:`micropython_vm` — generated MicroPython run on MicroPython's WebAssembly build.
* :mod:`micropython_qemu` — real MicroPython firmware for a Cortex-M3 on QEMU, with viper:
  generated modules run and measured.

The projects a student opens:

* :mod:`wokwi` — Wokwi ``diagram.json`` files, built from parts and checked pin by pin.
* :mod:`projects` — Arduino sketch folders and Wokwi projects as values, the pieces they
  share, and ``arduino/`` and ``wokwi/`` written atomically.
* :mod:`files` — atomic writes: one file, a set of files, whole folders swapped in.

Nothing here imports a lesson module or the repository tooling: whatever a project writes
(models, sample windows, thresholds) is handed to it by the caller.
"""
