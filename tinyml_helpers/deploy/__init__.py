"""The deploy core: from a trained model to C on a (simulated) board.

Data flows: a lesson's Keras model -> :mod:`litert` (convert to .tflite, run it) ->
:mod:`tflite_file` (read and check it once) -> :mod:`dense` (its layers, NumPy forward passes)
-> :mod:`export` (C arrays and plain-C inference, through :mod:`cgen` and the kernels in
``c/``) -> :mod:`firmware` (the harness in ``harness/`` on the Uno / Cortex-M4 / host) and
:mod:`projects` (Arduino and Wokwi folders, :mod:`wokwi` diagrams). :mod:`quant` holds the one
quantization arithmetic, :mod:`tflm` the TFLM reference runtime, :mod:`toolchains` the
compilers and simulators, :mod:`files` safe writes, :mod:`env` TensorFlow's set-up.
:mod:`self_test` makes the boot-time checks every generated sketch runs; :mod:`tflm_build`
builds TFLM from source for the PC and the Cortex-M4F, and :mod:`esp_nn` builds it the way the
ESP32's Arduino core does (ESP-NN kernels).

Convolutional networks (work in progress, not yet used by the exporters): :mod:`graph` reads a
.tflite once into a typed graph of CONV_2D, DEPTHWISE_CONV_2D, pooling, FULLY_CONNECTED,
RESHAPE and SOFTMAX ops, :mod:`ops` runs it in NumPy and :mod:`graph_c` writes it as
library-free C over the reference kernels of ``c/tinyml_ops.c``, both int8 bit-exact with TFLM
(the C on the host, the Uno and the Cortex-M4F).

Nothing here imports a lesson module or the repository tooling: whatever a project writes
(models, sample windows, thresholds) is handed to it by the caller.
"""
