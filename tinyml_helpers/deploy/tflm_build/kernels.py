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
# graph op kind -> TFLM's registration of the int8-only version of its kernel. TFLM's kernel
# headers declare these when CMSIS_NN is defined (and the CMSIS-NN glue kernels define them);
# otherwise they are inline aliases of the generic registration, which also links the float,
# int16 and int4 paths. RESHAPE and EXPAND_DIMS have none.
INT8_REGISTRATIONS = {
    "CONV_2D": "Register_CONV_2D_INT8",
    "DEPTHWISE_CONV_2D": "Register_DEPTHWISE_CONV_2D_INT8",
    "MAX_POOL_2D": "Register_MAX_POOL_2D_INT8",
    "AVERAGE_POOL_2D": "Register_AVERAGE_POOL_2D_INT8",
    "FULLY_CONNECTED": "Register_FULLY_CONNECTED_INT8",
    "SOFTMAX": "Register_SOFTMAX_INT8",
}


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


def int8_kinds(kernels) -> tuple[str, ...]:
    """Return the operator kinds whose kernel source is among ``kernels`` (TFLM kernel names
    such as ``"pooling"``) and that have an int8-only registration, sorted."""
    return tuple(sorted(kind for kind in INT8_REGISTRATIONS if OPS[kind][0] in set(kernels)))


def resolver_header(ops, int8_only=()) -> str:
    """Return ``tflm_ops.h`` for a program that runs operator kinds ``ops``: TFLM_OP_COUNT (the
    resolver's capacity) and TFLM_ADD_OPS(resolver), true when every ``Add...()`` worked.

    ``int8_only`` names operator kinds (of ``ops``, with an entry in
    :data:`INT8_REGISTRATIONS`) registered with their int8-only kernel, e.g.
    ``AddConv2D(tflite::Register_CONV_2D_INT8())``: the program then links only the int8 path of
    those kernels. It must be compiled with ``-DCMSIS_NN`` and linked with kernels that define
    these registrations (CMSIS-NN's glue); the header refuses to compile otherwise. The other
    operators keep the generic registration. With none the header is the one every program
    and sketch has always had.
    """
    ops = _check_ops(ops)
    if isinstance(int8_only, str) or not isinstance(int8_only, (tuple, list, set, frozenset)):
        raise TypeError(f"int8_only must be a collection of operator kinds, got {int8_only!r}")
    int8_only = set(int8_only)
    wrong = sorted(k for k in int8_only if k not in ops or k not in INT8_REGISTRATIONS)
    if wrong:
        raise ValueError(f"int8_only: {', '.join(map(str, wrong))} not among the model's "
                         f"operators with an int8-only kernel ({', '.join(ops)}; int8-only "
                         f"kernels exist for {', '.join(INT8_REGISTRATIONS)})")

    def call(kind: str) -> str:
        arg = f"tflite::{INT8_REGISTRATIONS[kind]}()" if kind in int8_only else ""
        return f"(resolver)->{OPS[kind][1]}({arg}) == kTfLiteOk"

    calls = " && \\\n   ".join(call(kind) for kind in ops)
    guard = cgen.include_guard(OPS_HEADER)
    if int8_only:
        chosen = [kind for kind in ops if kind in int8_only]
        comment = (f"// The model's operators ({', '.join(ops)}), registered with TFLM's\n"
                   f"// MicroMutableOpResolver; {', '.join(chosen)} with their int8-only\n"
                   "// kernels (defined by the CMSIS-NN kernels): the program links only their\n"
                   "// int8 code.\n")
        check = ("#ifndef CMSIS_NN\n#error \"the int8-only registrations need -DCMSIS_NN and "
                 "TFLM's CMSIS-NN kernels\"\n#endif\n\n")
    else:
        comment = (f"// The model's operators ({', '.join(ops)}), registered with TFLM's\n"
                   "// MicroMutableOpResolver: the program links exactly these kernels.\n")
        check = ""
    return (f"{cgen.banner(OPS_HEADER)}{comment}"
            f"#ifndef {guard}\n#define {guard}\n\n{check}"
            f"#define TFLM_OP_COUNT {len(ops)}\n"
            f"#define TFLM_ADD_OPS(resolver) \\\n  ({calls})\n\n"
            f"#endif  // {guard}\n")
