"""Generated library-free C as one value: its files and the facts the firmware needs.

:class:`CModel` is what :func:`export.plain_c_files` (Dense chains, over the fast kernels of
``c/tinyml_kernels.c``) and :func:`graph_c.generate` (any graph of CNN operators, over the
reference kernels of ``c/tinyml_ops.c`` or their fast twins in ``c/tinyml_ops_fast.c``)
return. It reads like the ``{file name: source}`` dict of the model's own files, and it carries
what the generator already knew: the prefix, int8 or float, input and output sizes, the kernel
files it calls, the bytes of constants and of activation buffers. The firmware harness and the
project writers take those facts from the value; nothing is parsed back out of the generated
text.

:func:`check_prefix` is the one rule for a generated model's name: a lower-case C identifier
outside the names the kernels and the harness use themselves (``tinyml_*``, ``harness*``,
``platform*``), so no generated file, function or include guard can shadow theirs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cgen

KERNEL_DIR = Path(__file__).resolve().parent / "c"
C_TEMPLATES = Path(__file__).resolve().parent / "templates" / "c"
DENSE_KERNELS = ("tinyml_kernels.h", "tinyml_kernels.c")  # the Dense fast paths
# The reference kernels of CNN operators, with the Dense file they take TINYML_CONST and the
# requantization from.
OPS_KERNELS = (*DENSE_KERNELS, "tinyml_ops.h", "tinyml_ops.c")
# The fast CONV_2D, DEPTHWISE_CONV_2D, pools and FULLY_CONNECTED, with the reference kernels
# they share the params structs with (and that run SOFTMAX and the reshapes).
FAST_OPS_KERNELS = (*OPS_KERNELS, "tinyml_ops_fast.h", "tinyml_ops_fast.c")
KERNEL_SETS = (DENSE_KERNELS, OPS_KERNELS, FAST_OPS_KERNELS)
KINDS = ("int8", "float")
# Names the hand-written C owns: the kernels (tinyml_*), the firmware harness (harness.c,
# harness_cases.h, harness_empty_invoke, HARNESS_*) and its platform files (platform*.c/.h).
RESERVED_PREFIXES = ("tinyml", "harness", "platform")


def check_prefix(prefix) -> str:
    """Return ``prefix`` after checking it can name generated C (files, functions, macros)."""
    cgen.identifier(prefix, "prefix")
    if prefix != prefix.lower() or prefix[0].isdigit():
        raise ValueError(f"prefix must be a lower-case C identifier, got {prefix!r}")
    clash = next((r for r in RESERVED_PREFIXES if prefix.startswith(r)), None)
    if clash is not None:
        raise ValueError(f"prefix {prefix!r} starts with {clash!r}: names beginning with "
                         f"{', '.join(RESERVED_PREFIXES)} belong to the course's kernels and "
                         "firmware harness, and a generated file or symbol would clash with "
                         "theirs; choose another prefix, e.g. 'model' or 'sine_int8'")
    return prefix


def _count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class CModel(Mapping):
    """The generated C of one model (a read-only mapping of its files) and its facts."""

    prefix: str
    kind: str  # "int8" or "float": what <prefix>_invoke takes and returns
    n_inputs: int  # values per input row
    n_outputs: int
    files: Mapping[str, str]  # <prefix>.h, <prefix>.c (and any extra .c the caller adds)
    kernels: tuple[str, ...]  # hand-written files of c/ that the model calls
    constant_bytes: int  # weights, biases, multipliers and shifts
    activation_bytes: int  # RAM of the intermediate buffers (input and output not counted)

    def __post_init__(self):
        check_prefix(self.prefix)
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("n_inputs", "n_outputs"):
            _count(name, getattr(self, name), 1)
        for name in ("constant_bytes", "activation_bytes"):
            _count(name, getattr(self, name), 0)
        if not isinstance(self.files, Mapping):
            raise TypeError(f"files must be a {{name: C source}} mapping, got "
                            f"{type(self.files).__name__}")
        for name, text in self.files.items():
            cgen.file_name(name, "a model file name")
            if not isinstance(text, str):
                raise TypeError(f"files[{name!r}] must be C source as a str, got "
                                f"{type(text).__name__}")
        for header in (f"{self.prefix}.h", f"{self.prefix}.c"):
            if header not in self.files:
                raise ValueError(f"the model's files lack {header}")
        if self.kernels not in KERNEL_SETS:
            raise ValueError(f"kernels must be one of {', '.join(map(str, KERNEL_SETS))}, got "
                             f"{self.kernels!r}")
        shadowed = sorted(set(self.files) & set(self.kernels))
        if shadowed:
            raise ValueError(f"the model's files would replace the kernels' {shadowed}")
        object.__setattr__(self, "files", dict(self.files))

    def __getitem__(self, name: str) -> str:
        return self.files[name]

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def kernel_files(self) -> dict[str, str]:
        """Return {file name: source} of the hand-written kernels this model calls."""
        return kernel_files(self.kernels)

    def all_files(self) -> dict[str, str]:
        """Return the model's files and its kernels': everything a build compiles."""
        return {**self.files, **self.kernel_files()}

    def with_files(self, files: Mapping[str, str]) -> CModel:
        """Return the same model with ``files`` added or replaced (e.g. a student's kernel)."""
        return dataclasses.replace(self, files={**self.files, **files})


def kernel_files(names=DENSE_KERNELS, folder: Path = KERNEL_DIR) -> dict[str, str]:
    """Return {file name: source} of hand-written C files in ``folder``: by default the
    Dense kernels (``deploy/c``) the generated code calls."""
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)) or not names:
        raise TypeError(f"names must be a non-empty list of file names, got {names!r}")
    if not isinstance(folder, (str, Path)):
        raise TypeError(f"folder must be a path, got {type(folder).__name__}")
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    files = {}
    for name in names:
        path = Path(folder) / cgen.file_name(name)
        if not path.is_file():
            raise FileNotFoundError(f"no hand-written C file {name} in {folder}")
        files[name] = path.read_text(encoding="utf-8")
    return files
