"""C generation in one place: checked identifiers and file names, literals, banners, include
guards and templates.

Everything the exporters write into C passes through here, so generated C can only contain
ASCII identifiers that are not C or C++ keywords, finite numbers, and template text. Longer
pieces of C live as template files (``{{KEY}}`` placeholders) beside the module that fills them.
"""

from __future__ import annotations

import math
import numbers
import re
from pathlib import Path

import numpy as np

GENERATOR = "tinyml_helpers"

# C11 and C++17 keywords (plus the alternative operator spellings): not valid as names.
C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if
inline int long register restrict return short signed sizeof static struct switch typedef
union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic
_Imaginary _Noreturn _Static_assert _Thread_local alignas alignof and and_eq asm bitand bitor
bool catch char16_t char32_t class compl concept consteval constexpr constinit const_cast
co_await co_return co_yield decltype delete dynamic_cast explicit export false friend mutable
namespace new noexcept not not_eq nullptr operator or or_eq private protected public
reinterpret_cast requires static_assert static_cast template this thread_local throw true try
typeid typename using virtual wchar_t xor xor_eq
""".split())
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")


def identifier(name, what: str = "name") -> str:
    """Return ``name`` after checking it is a plain ASCII C identifier and not a keyword."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{what} must be an ASCII C identifier (a letter or _, then letters, "
                         f"digits or _, at most 63 characters), got {name!r}")
    if name in C_KEYWORDS:
        raise ValueError(f"{what} {name!r} is a C/C++ keyword")
    if name.startswith("__") or re.match(r"_[A-Z]", name):
        raise ValueError(f"{what} {name!r} is reserved for the compiler (starts with __ or _X)")
    return name


def file_name(name, what: str = "file name", suffixes: tuple[str, ...] = ()) -> str:
    """Return ``name`` after checking it is a plain file name (no folder, no '..', ASCII)."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    if not _FILE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{what} must be a plain ASCII file name without folders (letters, "
                         f"digits, _ . -), got {name!r}")
    if suffixes and not name.endswith(suffixes):
        raise ValueError(f"{what} must end with {' or '.join(suffixes)}, got {name!r}")
    return name


def int_literal(value) -> str:
    """Return an integer as C text."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"expected an integer, got {value!r}")
    return str(int(value))


def float_literal(value) -> str:
    """Return the shortest C float literal that gives back ``value`` as a float32."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating,
                                                          np.integer)):
        raise TypeError(f"expected a real number, got {value!r}")
    with np.errstate(over="ignore"):
        as_float = float(np.float32(value)) if math.isfinite(float(value)) else float(value)
    if not math.isfinite(as_float):
        raise ValueError(f"cannot write {value!r} into C: not finite as a float32")
    text = repr(as_float)
    return (text if ("e" in text or "." in text) else text + ".0") + "f"


def initializer(values, literal=int_literal, per_line: int = 12) -> str:
    """Return ``{ ... }`` holding ``values`` (flattened) written by ``literal``, 12 a line."""
    if isinstance(per_line, bool) or not isinstance(per_line, (int, np.integer)) \
            or per_line < 1:
        raise ValueError(f"per_line must be a positive int, got {per_line!r}")
    if isinstance(values, (str, bytes)):
        raise TypeError(f"values must be numbers, got {type(values).__name__}")
    items = [literal(v.item() if isinstance(v, np.generic) else v) for v in np.ravel(values)]
    if not items:
        raise ValueError("a C initializer needs at least one value")
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n    " + ",\n    ".join(lines) + "\n}"


def banner(name: str, style: str = "//") -> str:
    """Return the first line of a generated file, in ``//``, ``#`` or ``html`` comment style."""
    if not isinstance(name, str):
        raise TypeError(f"a banner name must be a str, got {type(name).__name__}")
    if "\n" in name or "\r" in name or "*/" in name or "-->" in name:
        raise ValueError(f"a banner name must be one line without comment ends, got {name!r}")
    text = (f"{name}: generated by {GENERATOR} from a lesson's model. Change it and try it; "
            "regenerating the project writes this version again.")
    if style == "html":
        return f"<!-- {text} -->\n"
    if style not in ("//", "#"):
        raise ValueError(f"banner style must be '//', '#' or 'html', got {style!r}")
    return f"{style} {text}\n"


def include_guard(header: str) -> str:
    """Return the include-guard macro of header file ``header``: model.h -> MODEL_H."""
    guard = re.sub(r"[^A-Z0-9]", "_", file_name(header, "header").upper())
    return guard if guard[0].isalpha() else f"H{guard}"  # 1x.h -> H1X_H, _x.h -> H_X_H


def render(template: Path, **values: str) -> str:
    """Return the template file with every ``{{KEY}}`` replaced by ``values[KEY]``.

    Raises ValueError naming any placeholder left without a value (extra values are unused).
    """
    if not isinstance(template, (str, Path)):
        raise TypeError(f"template must be a path, got {type(template).__name__}")
    if not Path(template).is_file():
        raise FileNotFoundError(f"no template file {template}")
    bad = sorted(key for key in values if not _PLACEHOLDER.fullmatch("{{" + key + "}}"))
    if bad:
        raise ValueError(f"template keys must be upper-case names like NAME_1, got {bad}")
    try:
        text = Path(template).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"template {template} is not UTF-8 text") from None
    used = set(_PLACEHOLDER.findall(text))
    left = sorted(used - set(values))
    if left:
        raise ValueError(f"template {Path(template).name}: no value given for "
                         f"{', '.join(left)}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def comment_text(text, what: str = "comment") -> str:
    """Return ``text`` after checking it can stand in a one-line C comment: printable ASCII,
    no line break, no comment delimiter."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}")
    if not text or not all(" " <= ch <= "~" for ch in text) or "*/" in text or "/*" in text:
        raise ValueError(f"{what} must be one line of printable ASCII without comment "
                         f"delimiters, got {text!r}")
    return text
