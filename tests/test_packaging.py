"""The package as it ships and as it is described.

* The wheel: built once from a copy of this tree, without a single setuptools warning, and
  holding every file of ``tinyml_helpers/`` that the code may read (modules, C kernels, harness,
  templates, measurements), the repository tooling excepted.
* The module map: every module on disk (a sub-package counts as one) is named in README.md's
  description of the package, and the deploy core's in the docstring of
  ``tinyml_helpers/deploy/__init__.py``; a name there that is no module fails too.
* Docstring cross-references: every ``:mod:``, ``:func:``, ``:class:``, ``:meth:``, ``:data:``,
  ``:attr:`` and ``:exc:`` in the package's docstrings names something that exists.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # 3.10: build in isolation
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tinyml_helpers"
NOT_SHIPPED = ("tinyml_helpers/tooling/",)
SKIPPED_PARTS = {"__pycache__"}


# --- the wheel -------------------------------------------------------------------------------

def _backend_in_venv() -> bool:
    """True when every build requirement of pyproject.toml is installed here, so the wheel can
    be built with --no-build-isolation (offline, nothing fetched)."""
    try:
        from packaging.requirements import Requirement
    except ModuleNotFoundError:
        return False
    if tomllib is None:
        return False

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for spec in requires["build-system"]["requires"]:
        req = Requirement(spec)
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not req.specifier.contains(version, prereleases=True):
            return False
    return True


def _working_tree_files() -> list[str]:
    """The files of ``tinyml_helpers/`` that belong to the tree: tracked by git, or new and not
    ignored (a module being added ships too), present on disk, tooling and caches left out."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: which files belong to the package is unknown")
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "tinyml_helpers"],
        cwd=ROOT, capture_output=True, check=True).stdout.decode()
    return sorted(
        f for f in set(out.split("\0"))
        if f and (ROOT / f).is_file() and not f.startswith(NOT_SHIPPED)
        and not SKIPPED_PARTS & set(Path(f).parts) and not f.endswith(".pyc"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel from a copy of pyproject.toml, README.md and tinyml_helpers/ (building in
    place would write build/ and *.egg-info into the checkout, and reuse their stale files).
    Returns (names in the wheel, pip's output)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src, out = tmp / "src", tmp / "dist"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "tinyml_helpers",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    # -v: the whole output of the build backend, not only what pip chooses to pass on.
    cmd = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir",
           "-w", str(out), str(src)]
    isolated = not _backend_in_venv()
    if isolated:  # setuptools comes from the configured index: ask once, do not wait long
        cmd[4:4] = ["--retries", "0", "--timeout", "15"]
    else:
        cmd[4:4] = ["--no-build-isolation"]
    env = dict(os.environ, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    # With PYTHONDONTWRITEBYTECODE set, distutils says "warning: byte-compiling is disabled":
    # a fact of this shell, not of the package.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    if proc.returncode and isolated and re.search(
            r"No matching distribution found for setuptools|Could not find a version", log):
        pytest.skip("the build backend is neither installed here nor reachable on an index")
    assert proc.returncode == 0, f"pip wheel failed:\n{log[-4000:]}"
    (whl,) = out.glob("tinyml_helpers-*.whl")
    with zipfile.ZipFile(whl) as zf:
        return set(zf.namelist()), log


def test_wheel_builds_without_warnings(wheel):
    _, log = wheel
    # Lines of the build's output that say "warning" (setuptools' BuildBackendWarning,
    # SetuptoolsDeprecationWarning, "warning: no files found matching ...", ...); the lines
    # that only list files (copying, adding) are left out, whatever the files are called.
    warnings = [line.strip() for line in log.splitlines()
                if re.search("warning", line, re.I)
                and not re.match(r"(copying|adding|creating|removing) ", line.strip())]
    assert not warnings, "the build printed warnings:\n" + "\n".join(warnings)


def test_wheel_ships_every_file_of_the_package(wheel):
    names, _ = wheel
    expected = _working_tree_files()
    missing = [f for f in expected if f not in names]
    assert not missing, f"{len(missing)} of {len(expected)} package files not in the wheel: " \
        + ", ".join(missing)
    unexpected = sorted(n for n in names if n.startswith(NOT_SHIPPED) or "__pycache__" in n)
    assert not unexpected, f"the wheel ships what it should not: {unexpected}"


# --- the module map --------------------------------------------------------------------------

# Each layer of the package and the folder README.md's module map names it by. The docstring
# of each layer's __init__ names its modules too.
LAYERS = {
    "tinyml_helpers": "tinyml_helpers/",
    "tinyml_helpers.deploy": "tinyml_helpers/deploy/",
    "tinyml_helpers.tooling": "tinyml_helpers/tooling/",
}


def _modules_on_disk(package: str) -> set[str]:
    """The modules of ``package``, a sub-package counted as one; a sub-package that is a layer
    of its own (deploy, tooling) is described by its own entry instead."""
    path = PACKAGE.parent.joinpath(*package.split("."))
    return {m.name for m in pkgutil.iter_modules([str(path)])
            if f"{package}.{m.name}" not in LAYERS}


def _readme_map() -> dict[str, set[str]]:
    """The module names README.md lists under each layer of its module map: a block opened by
    a line ``**`tinyml_helpers/...`** ...`` whose list items start with ``- `name` ``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        head = re.match(r"\*\*`(tinyml_helpers/[a-z_/]*)`", line)
        if head:
            current = next((p for p, d in LAYERS.items() if d == head.group(1)), None)
            found.setdefault(current, set())
        elif current and (item := re.match(r"[-*] `([A-Za-z_][A-Za-z0-9_]*)`", line)):
            found[current].add(item.group(1))
        elif current and line.startswith("#"):
            current = None
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_readme_names_every_module(package):
    on_disk = _modules_on_disk(package)
    listed = _readme_map().get(package)
    assert listed is not None, f"README.md has no module list under **`{LAYERS[package]}`**"
    missing, stale = sorted(on_disk - listed), sorted(listed - on_disk)
    assert not missing, f"README.md does not describe {package}: {', '.join(missing)}"
    assert not stale, f"README.md lists modules {package} does not have: {', '.join(stale)}"


@pytest.mark.parametrize("package", LAYERS)
def test_package_docstring_names_every_module(package):
    doc = importlib.import_module(package).__doc__ or ""
    named = set(re.findall(r":mod:`~?\.?([A-Za-z_][A-Za-z0-9_]*)`", doc))
    missing = sorted(_modules_on_disk(package) - named)
    assert not missing, f"the docstring of {package} does not name: {', '.join(missing)}"


# --- docstring cross-references --------------------------------------------------------------

ROLE = re.compile(r":(mod|func|class|meth|data|attr|exc):`([^`]+)`")


def _module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if SKIPPED_PARTS & set(path.parts):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _docstrings(path: Path):
    """Yield (first line, scope, text) for the module's docstring and every class and function
    docstring in it; scope is the dotted class path the docstring sits in (for :meth:`fit`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def walk(node, scope):
        body = getattr(node, "body", [])
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            yield body[0].value.lineno, scope, body[0].value.value
        for child in body:
            if isinstance(child, ast.ClassDef):
                yield from walk(child, scope + (child.name,))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from walk(child, scope)  # a method's docstring sees its class

    yield from walk(tree, ())


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _lookup(dotted: str):
    """The object a fully dotted name stands for (a module, or attributes of one), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        obj = _import(".".join(parts[:cut]))
        if obj is None:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                submodule = _import(f"{obj.__name__}.{attr}") if hasattr(obj, "__path__") \
                    else None
                if submodule is None:
                    return None
                obj = submodule
            else:
                obj = getattr(obj, attr)
        return obj
    return None


def _resolves(module: str, is_package: bool, scope: tuple[str, ...], role: str,
              target: str) -> bool:
    """Resolve ``target`` as Sphinx would search it: in the class the docstring sits in, the
    module, each package around it, then as an absolute name. A leading dot means the package
    the module is in."""
    target = target.strip().lstrip("~").removesuffix("()")
    if not re.fullmatch(r"\.?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", target):
        return False
    package = module if is_package else module.rpartition(".")[0]
    if target.startswith("."):
        return _lookup(f"{package}{target}") is not None
    bases = []
    if scope:
        bases.append(".".join((module,) + scope))
    bases.append(module)
    parts = package.split(".")
    bases += [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
    candidates = [f"{b}.{target}" for b in bases] + [target]
    found = [obj for obj in map(_lookup, candidates) if obj is not None]
    kind = {"mod": lambda obj: isinstance(obj, type(sys)),
            "class": lambda obj: isinstance(obj, type),
            "exc": lambda obj: isinstance(obj, type) and issubclass(obj, BaseException),
            "func": callable, "meth": callable}.get(role, lambda obj: True)
    return any(kind(obj) for obj in found)


def _broken_references() -> list[str]:
    broken = []
    for module in _module_names():
        path = PACKAGE.parent.joinpath(*module.split("."))
        is_package = path.is_dir()
        path = path / "__init__.py" if is_package else path.with_suffix(".py")
        try:
            importlib.import_module(module)
        except Exception as e:  # noqa: BLE001 - reported, with the other findings
            broken.append(f"{path.relative_to(ROOT)}: does not import ({e!r}); references "
                          "into it cannot resolve")
        for first_line, scope, text in _docstrings(path):
            for match in ROLE.finditer(text):
                role, target = match.group(1), " ".join(match.group(2).split())
                if not _resolves(module, is_package, scope, role, target):
                    line = first_line + text[:match.start()].count("\n")
                    broken.append(f"{path.relative_to(ROOT)}:{line}: :{role}:`{target}`")
    return broken


def test_docstring_references_resolve():
    broken = _broken_references()
    assert not broken, f"{len(broken)} docstring references name nothing:\n" + "\n".join(broken)
