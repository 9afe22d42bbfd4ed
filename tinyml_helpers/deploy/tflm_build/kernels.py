"""Which TFLM kernels a model needs, and the op resolver that registers exactly its operators.

The operators come from the model itself (:func:`graph.read`), so the library linked into a
program and the resolver it sets up fit any model :mod:`graph` accepts, not only the sine
model's FULLY_CONNECTED.
"""

from __future__ import annotations

from .. import cgen, graph

# graph op kind -> (TFLM kernel source, tensorflow/lite/micro/kernels/<name>.cc, and the
# MicroMutableOpResolver method that registers it)
OPS = {
    "CONV_2D": ("conv", "AddConv2D"),
    "DEPTHWISE_CONV_2D": ("depthwise_conv", "AddDepthwiseConv2D"),
    "MAX_POOL_2D": ("pooling", "AddMaxPool2D"),
    "AVERAGE_POOL_2D": ("pooling", "AddAveragePool2D"),
    "FULLY_CONNECTED": ("fully_connected", "AddFullyConnected"),
    "RESHAPE": ("reshape", "AddReshape"),
    "SOFTMAX": ("softmax", "AddSoftmax"),
    "EXPAND_DIMS": ("expand_dims", "AddExpandDims"),
}
OPS_HEADER = "tflm_ops.h"


def model_ops(model) -> tuple[str, ...]:
    """Return the operator kinds of ``model`` (.tflite bytes or a :class:`graph.Graph`), each
    once, sorted; ValueError for an operator without a TFLM kernel here."""
    kinds = sorted({op.kind for op in graph.read(model).ops})
    unknown = [kind for kind in kinds if kind not in OPS]
    if unknown:
        raise ValueError(f"no TFLM kernel known for {', '.join(unknown)}; known: "
                         f"{', '.join(OPS)}")
    if not kinds:
        raise ValueError("the model has no operators")
    return tuple(kinds)


def _check_ops(ops) -> tuple[str, ...]:
    if isinstance(ops, str) or not isinstance(ops, (tuple, list)) or not ops:
        raise TypeError(f"ops must be a non-empty tuple of operator kinds, got {ops!r}")
    unknown = [kind for kind in ops if kind not in OPS]
    if unknown:
        raise ValueError(f"no TFLM kernel known for {unknown}; known: {', '.join(OPS)}")
    return tuple(sorted(set(ops)))


def kernels_for(ops) -> tuple[str, ...]:
    """Return the TFLM kernel sources (``tensorflow/lite/micro/kernels/<name>.cc``) that
    operator kinds ``ops`` run on, each once, sorted: what :func:`library.library` builds."""
    return tuple(sorted({OPS[kind][0] for kind in _check_ops(ops)}))


def resolver_header(ops) -> str:
    """Return ``tflm_ops.h`` for a program that runs operator kinds ``ops``: TFLM_OP_COUNT (the
    resolver's capacity) and TFLM_ADD_OPS(resolver), true when every ``Add...()`` worked."""
    ops = _check_ops(ops)
    calls = " && \\\n   ".join(f"(resolver)->{OPS[kind][1]}() == kTfLiteOk" for kind in ops)
    guard = cgen.include_guard(OPS_HEADER)
    return (f"{cgen.banner(OPS_HEADER)}"
            f"// The model's operators ({', '.join(ops)}), registered with TFLM's\n"
            "// MicroMutableOpResolver: the program links exactly these kernels.\n"
            f"#ifndef {guard}\n#define {guard}\n\n"
            f"#define TFLM_OP_COUNT {len(ops)}\n"
            f"#define TFLM_ADD_OPS(resolver) \\\n  ({calls})\n\n"
            f"#endif  // {guard}\n")
