#!/usr/bin/env python3
"""Colab runtime job: run every lesson the way a Google Colab student runs it.

    python3 tests/colab_runtime.py [--timeout SECONDS] [LESSON ...]

Any Python 3.7+ can start it. It finds a Python 3.13 (Colab's version), builds ``.venv-colab/``
from ``requirements-colab.txt`` (reused while that file and ``pyproject.toml`` are unchanged),
installs this checkout's package non-editable (``pip install .``: what Colab's setup cell gets)
and then runs each lesson on its own: the one .ipynb copied into an empty temporary folder (no
repository, no ``../arduino``, no ``build/``), executed top to bottom by nbclient on the venv's
own kernel, with the package imported from site-packages and ``google.colab`` absent (so the
setup cell does nothing). A cell that raises (the lessons assert their claims) fails the job,
naming the lesson, the cell and the error. When every lesson passed, nbval then re-runs copies
of them in the same environment and compares their outputs with the committed ones
(``--no-compare`` skips that). Without a Python 3.13 it prints one line and exits 0.

Not a pytest file: it builds its own environment. LESSON is a number (``03``), a file name or
the path of any .ipynb.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
VENV = ROOT / ".venv-colab"
REQUIREMENTS = ROOT / "requirements-colab.txt"
STAMP = VENV / ".colab-stamp"
PYTHON_MINOR = "3.13"
TIMEOUT_S = 120  # per cell; the slowest lesson takes about a minute in all
CHECK = "import sys, venv, ensurepip; print(sys.version.split()[0])"


def say(message: str) -> None:
    print(f"colab runtime: {message}", flush=True)


# --- Finding Python 3.13 -------------------------------------------------------------------

def _version_of(cmd: list, env: dict | None = None) -> str | None:
    """Return the Python version ``cmd`` runs, if it starts and can build a venv."""
    try:
        done = subprocess.run(cmd + ["-c", CHECK], check=False, capture_output=True, text=True,
                              env=env, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version.startswith(PYTHON_MINOR + ".") else None


def _pyenv_versions() -> tuple:
    """Return pyenv's root and its installed 3.13.x versions, newest first."""
    pyenv = shutil.which("pyenv")
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    versions = []
    if pyenv:
        try:
            root = subprocess.run([pyenv, "root"], check=False, capture_output=True, text=True,
                                  timeout=60).stdout.strip() or root
            versions = subprocess.run([pyenv, "versions", "--bare"], check=False,
                                      capture_output=True, text=True,
                                      timeout=60).stdout.split()
        except (OSError, subprocess.SubprocessError):
            pass
    if not versions and (Path(root) / "versions").is_dir():
        versions = [p.name for p in (Path(root) / "versions").iterdir()]
    ours = [v for v in versions if re.fullmatch(rf"{re.escape(PYTHON_MINOR)}\.\d+", v)]
    return root, sorted(ours, key=lambda v: int(v.rsplit(".", 1)[1]), reverse=True)


def _candidates():
    """Yield (command, environment) pairs that might run Python 3.13, most direct first."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        exe = Path(folder or ".") / f"python{PYTHON_MINOR}"
        if exe.is_file() and os.access(exe, os.X_OK):
            yield [str(exe)], None
    root, versions = _pyenv_versions()
    shim = shutil.which(f"python{PYTHON_MINOR}")
    for version in versions:
        yield [str(Path(root) / "versions" / version / "bin" / f"python{PYTHON_MINOR}")], None
        if shim:  # a pyenv shim runs only the version selected for it
            yield [shim], dict(os.environ, PYENV_VERSION=version)


def find_python() -> tuple | None:
    """Return (command, environment, version) of the first Python 3.13 that starts."""
    for cmd, env in _candidates():
        version = _version_of(cmd, env)
        if version:
            return cmd, env, version
    return None


# --- The environment ---------------------------------------------------------------------

def _run_quietly(cmd: list, what: str, env: dict | None = None) -> None:
    """Run ``cmd``; show its output only if it fails (pip's warnings are noise here)."""
    done = subprocess.run([str(c) for c in cmd], check=False, capture_output=True, text=True,
                          env=env)
    if done.returncode != 0:
        print((done.stdout + done.stderr)[-6000:], file=sys.stderr)
        raise SystemExit(f"colab runtime: {what} failed (exit {done.returncode})")


def _stamp(version: str) -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return f"python {version}\n{digest.hexdigest()}\n"


def ensure_venv(cmd: list, env: dict | None, version: str) -> Path:
    """Return the venv's python, (re)building ``.venv-colab`` when its inputs changed."""
    python = VENV / "bin" / "python"
    want = _stamp(version)
    if STAMP.exists() and STAMP.read_text() == want and _version_of([str(python)]):
        say(".venv-colab is up to date (requirements-colab.txt and pyproject.toml unchanged)")
        return python
    if VENV.exists():
        say("requirements-colab.txt, pyproject.toml or Python changed: rebuilding .venv-colab")
        shutil.rmtree(VENV)
    say(f"creating .venv-colab with Python {version} ({cmd[0]})")
    _run_quietly(cmd + ["-m", "venv", VENV], "creating the venv", env)
    say("installing requirements-colab.txt (about a minute, 2.6 GB) ...")
    _run_quietly([python, "-m", "pip", "install", "-q", "-r", REQUIREMENTS], "pip install")
    STAMP.write_text(want)
    return python


def install_package(python: Path) -> None:
    """Install this checkout's package non-editable, fresh every run (the helpers change).

    It is built from a copy of the checkout: setuptools builds in the source tree and would
    otherwise leave ``build/lib`` inside the project's own ``build/`` folder.
    """
    skip = shutil.ignore_patterns(".git", ".venv*", "build", "*.egg-info", "__pycache__",
                                  ".*_cache", ".ipynb_checkpoints")
    with tempfile.TemporaryDirectory(prefix="tinyml-src-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(ROOT, source, ignore=skip)
        # setuptools comes with tensorflow; no isolated build env to download each run
        _run_quietly([python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                      "--no-build-isolation", source], "installing the package")


# --- Running the lessons (inside the venv's python) -----------------------------------------

# Runs first in every kernel, before the lesson: says which Python, which package, which folder.
PROBE = """\
import importlib.metadata, importlib.util, json, os, sys
spec = importlib.util.find_spec("tinyml_helpers")
print(json.dumps({"python": sys.version.split()[0], "prefix": sys.prefix, "cwd": os.getcwd(),
                  "package": spec.origin if spec else None, "path": sys.path,
                  "colab": "google.colab" in sys.modules,
                  "tensorflow": importlib.metadata.version("tensorflow")}))
"""
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _probe_problems(info: dict, work: Path) -> list:
    """Return what is wrong with the kernel the probe describes (empty when all is right)."""
    import sysconfig

    problems = []
    if not info["python"].startswith(PYTHON_MINOR + "."):
        problems.append(f"kernel runs Python {info['python']}, not {PYTHON_MINOR}")
    if Path(info["prefix"]).resolve() != Path(sys.prefix).resolve():
        problems.append(f"kernel runs in {info['prefix']}, not {sys.prefix}")
    if Path(info["cwd"]).resolve() != work.resolve():
        problems.append(f"kernel's folder is {info['cwd']}, not {work}")
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    package = Path(info["package"]).resolve() if info["package"] else None
    if package is None or site not in package.parents:
        problems.append(f"tinyml_helpers comes from {info['package']}, not {site}")
    if any(Path(p or info["cwd"]).resolve() in (ROOT, ROOT / "tests") for p in info["path"]):
        problems.append("the repository is on the kernel's sys.path")
    if info["colab"]:
        problems.append("google.colab is imported")
    return problems


def _repository_build():
    """Return ``tinyml_helpers.tooling.build`` from this checkout, grafted onto the package
    installed in site-packages (which, as in Colab, comes without the repository's tooling)."""
    import importlib.util

    if "tinyml_helpers.tooling.build" in sys.modules:
        return sys.modules["tinyml_helpers.tooling.build"]
    folder = ROOT / "tinyml_helpers" / "tooling"
    spec = importlib.util.spec_from_file_location(
        "tinyml_helpers.tooling", folder / "__init__.py", submodule_search_locations=[str(folder)])
    tooling = importlib.util.module_from_spec(spec)
    sys.modules["tinyml_helpers.tooling"] = tooling
    spec.loader.exec_module(tooling)
    return importlib.import_module("tinyml_helpers.tooling.build")


def run_lesson(path: Path, timeout: int) -> tuple:
    """Execute one lesson alone in an empty folder; return (seconds, info, failure or None)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    # Widget cells would otherwise sometimes wait out the whole timeout.
    _repository_build()._patch_nbclient()
    here = os.getcwd()
    # The kernel's own stderr (debugpy's start-up warnings, C++ messages) goes to a file outside
    # the lesson's folder and is shown only when the lesson fails.
    with tempfile.TemporaryDirectory(prefix="colab-") as tmp, \
            tempfile.TemporaryFile("w+", prefix="colab-kernel-") as kernel_stderr:
        work = Path(tmp)
        shutil.copy2(path, work / path.name)
        os.chdir(work)
        nb = nbformat.read(work / path.name, as_version=4)
        nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
        current = {"index": -1, "start": time.monotonic()}
        slow = []

        def on_execute(cell, cell_index, **_):
            current.update(index=cell_index, start=time.monotonic())

        def on_executed(cell, cell_index, **_):
            if time.monotonic() - current["start"] >= timeout - 1:
                slow.append(cell_index)

        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}},
                                on_cell_execute=on_execute, on_cell_executed=on_executed)
        start = time.perf_counter()
        failure = None
        try:
            client.execute(stderr=kernel_stderr)
        except (CellExecutionError, CellTimeoutError, DeadKernelError, RuntimeError,
                TimeoutError) as err:  # a cell raised or timed out, the kernel died or hung
            failure = _describe(path, current["index"], err)
            kernel_stderr.seek(0)
            said = [line.rstrip() for line in kernel_stderr if not line.startswith("0.00s - ")]
            if said:
                failure += "\n  kernel stderr (end):\n" + "\n".join(
                    "    " + line for line in said[-15:])
        seconds = time.perf_counter() - start
        os.chdir(here)
    info = {}
    probe = nb.cells[0].get("outputs", [])
    if probe and probe[0].get("output_type") == "stream":
        info = json.loads(probe[0]["text"])
        problems = _probe_problems(info, work)
        if problems and failure is None:
            failure = f"FAILED: {path.name}: " + "; ".join(problems)
    if slow and failure is None:
        failure = (f"FAILED: {path.name} cell {slow[0] - 1}: waited out the whole {timeout} s "
                   "cell timeout before its reply was read (executor stall, nbclient#312)")
    return seconds, info, failure


def _describe(path: Path, index: int, err) -> str:
    """One headline naming lesson, cell and error, then the end of the traceback."""
    cell = f"cell {index - 1}" if index > 0 else ("at the job's probe cell" if index == 0
                                                  else "at kernel start")
    evalue = getattr(err, "evalue", None)
    if evalue is None:  # a timeout or a dead kernel: its message's first line says it
        lines = str(err).strip().splitlines()
        evalue = lines[0] if lines else ""
    headline = f"FAILED: {path.name} {cell}: {getattr(err, 'ename', type(err).__name__)}: {evalue}"
    trace = ANSI.sub("", getattr(err, "traceback", "") or "").strip().splitlines()
    return "\n".join([headline] + ["    " + line for line in trace[-25:]])


def _import_quietly(module: str) -> None:
    """Import ``module`` with file descriptor 2 silenced."""
    from tinyml_helpers.deploy.env import quiet_stderr  # from site-packages, like the lessons

    with quiet_stderr():
        importlib.import_module(module)


def execute_lessons(paths: list, timeout: int, setup_s: float) -> int:
    """Run the lessons one by one; print a line each and a summary; return an exit code."""
    # Looking up the "python3" kernel imports ipykernel's debugger, whose debugpy prints four
    # lines about frozen modules on Python 3.11+: import it once, silenced, beforehand.
    _import_quietly("ipykernel.kernelspec")
    passed, failures, info, total = 0, [], {}, 0.0
    for i, path in enumerate(paths, start=1):
        say(f"[{i}/{len(paths)}] {path.name} ...")
        seconds, lesson_info, failure = run_lesson(path, timeout)
        info = lesson_info or info
        total += seconds
        if failure:
            failures.append(failure)
            print(failure, file=sys.stderr, flush=True)
            say(f"      {path.name} FAILED after {seconds:.1f} s")
        else:
            passed += 1
            say(f"      {path.name} passed in {seconds:.1f} s")
    for failure in failures:
        print(failure.splitlines()[0], file=sys.stderr)
    versions = f"Python {info.get('python', '?')}, TF {info.get('tensorflow', '?')}"
    say(f"{passed}/{len(paths)} lessons passed in {total:.0f} s "
        f"(+ {setup_s:.0f} s environment setup; {versions})")
    return 0 if not failures else 1


def compare_outputs(python: Path, lessons: list) -> int:
    """Run nbval over copies of ``lessons`` with the venv: every compared output must equal
    the committed one (the numbers a Colab student sees). Return pytest's exit code."""
    with tempfile.TemporaryDirectory(prefix="colab_nbval_") as tmp:
        for path in lessons:
            shutil.copy(path, tmp)
        shutil.copy(ROOT / "tests" / "nbval_sanitize.cfg", tmp)
        say("comparing the lessons' outputs with the committed ones (nbval) ...")
        cmd = [str(python), "-m", "pytest", "--nbval", "--nbval-sanitize-with",
               "nbval_sanitize.cfg", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
               *[path.name for path in lessons]]
        return subprocess.run(cmd, cwd=tmp, check=False).returncode


# --- Command line ----------------------------------------------------------------------------

def select(names: list) -> list:
    lessons = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return lessons
    chosen = []
    for name in names:
        if name.endswith(".ipynb") and Path(name).is_file():  # any notebook, by path
            chosen.append(Path(name).resolve())
            continue
        hits = [p for p in lessons if name in (str(p), p.name, p.stem)
                or p.name.startswith(f"{name}_")]
        if not hits:
            raise SystemExit(f"colab runtime: no lesson matches {name!r}")
        chosen.extend(hits)
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or file names (default: all)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT_S, help="seconds per cell")
    parser.add_argument("--no-compare", action="store_true",
                        help="only run the lessons; skip comparing their outputs (nbval)")
    parser.add_argument("--execute", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setup-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    lessons = select(args.lessons)
    if args.execute:  # inside .venv-colab
        return execute_lessons(lessons, args.timeout, args.setup_seconds)

    start = time.perf_counter()
    found = find_python()
    if found is None:
        say(f"skipped: no Python {PYTHON_MINOR} starts on this machine (Colab runs 3.13)")
        return 0
    cmd, env, version = found
    python = ensure_venv(cmd, env, version)
    say("installing the package from this checkout, non-editable ...")
    install_package(python)
    setup_s = time.perf_counter() - start
    say(f"environment ready in {setup_s:.0f} s; running {len(lessons)} lesson(s), "
        f"{args.timeout} s per cell at most")
    # The executor runs inside the venv, so nbclient's "python3" kernel is the venv's Python.
    child = [str(python), str(Path(__file__).resolve()), "--execute", "--timeout",
             str(args.timeout), "--setup-seconds", f"{setup_s:.1f}"] + [str(p) for p in lessons]
    code = subprocess.run(child, check=False, cwd=tempfile.gettempdir()).returncode
    if code or args.no_compare:
        return code
    return compare_outputs(python, lessons)


if __name__ == "__main__":
    sys.exit(main())
