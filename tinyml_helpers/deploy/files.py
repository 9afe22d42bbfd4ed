"""Writing files safely: one file atomically, a set of files as a set, folders swapped in whole.

A crash or an error part-way never leaves a half-written file or a half-written set: new
content goes to temporary names first and is renamed into place at the end. Written files get
the mode the user's umask gives (as ``open`` would), not the private 0600 of a temp file.
Names are checked: a file name with a folder part or ``..`` cannot write outside the target.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from .cgen import file_name


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_path(name: str, path) -> Path:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"{name} must be a path (str or Path), got {path!r}")
    return Path(path)


def file_in_the_way(path) -> Path | None:
    """Return the first part of ``path`` (from the root down, ``path`` itself excluded) that
    exists but is a file, so nothing can be created below it; None if there is none."""
    path = _check_path("path", path)
    for part in reversed(path.parents):
        try:
            if part.exists() and not part.is_dir():
                return part
        except OSError:  # no permission to look: the write itself reports it
            return None
    return None


def _refuse_file_in_the_way(path: Path, what: str) -> None:
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise ValueError(f"cannot create {what} {path}: {blocker} is a file, not a folder; "
                         f"choose a path whose folders are folders, or move {blocker} away")


def _check_content(name: str, content) -> None:
    if not isinstance(content, (str, bytes, bytearray)):
        raise TypeError(f"content of {name} must be str or bytes, got {type(content).__name__}")


def _temp_copy(path: Path, content: str | bytes) -> str:
    """Write ``content`` to a new temporary file beside ``path``; return its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if isinstance(content, (bytes, bytearray)):
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(content)
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_atomic(path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file and a rename; return the path.

    Text is written as UTF-8 with ``\\n`` line ends on every platform.
    """
    path = _check_path("path", path)
    _check_content(path.name, content)
    _refuse_file_in_the_way(path, "file")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a file")
    tmp = _temp_copy(path, content)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def write_files(directory, files: dict[str, str | bytes]) -> list[Path]:
    """Write ``files`` {name: content} into ``directory`` as a set; return the paths.

    Every name must be a plain file name (no folder part). All contents are written to
    temporary files first and only then renamed into place, so an error in any of them
    leaves every file of the set as it was.
    """
    if not isinstance(files, dict) or not files:
        raise TypeError("files must be a non-empty {file name: content} dict")
    for name, content in files.items():
        file_name(name)
        _check_content(name, content)
    directory = _check_path("directory", directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file, not a folder")
    _refuse_file_in_the_way(directory, "folder")
    directory.mkdir(parents=True, exist_ok=True)
    for name in files:
        if (directory / name).is_dir():
            raise ValueError(f"{directory / name} is a folder, not a file")
    staged: list[tuple[str, Path]] = []
    try:
        for name, content in files.items():
            staged.append((_temp_copy(directory / name, content), directory / name))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [path for _, path in staged]


def new_folder_beside(target: Path) -> Path:
    """Return a new empty folder next to ``target`` (for staging), with the umask's mode."""
    target = _check_path("target", target)
    _refuse_file_in_the_way(target, "folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    os.chmod(new, 0o777 & ~_umask())  # mkdtemp makes it private; the result is not
    return new


def swap_in(pairs: list[tuple[Path, Path]]) -> None:
    """Move each new folder onto its target; on any failure put the old folders back."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, (list, tuple)) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in pairs):
        raise TypeError("pairs must be a list of (new folder, target folder) pairs")
    pairs = [(_check_path("new folder", new), _check_path("target", target))
             for new, target in pairs]
    for new, _ in pairs:
        if not new.is_dir():
            raise FileNotFoundError(f"new folder {new} does not exist")
    done: list[tuple[Path, Path, Path | None]] = []
    try:
        for new, target in pairs:
            old = None
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                if old.exists():
                    shutil.rmtree(old)
                os.rename(target, old)
            done.append((new, target, old))
            os.rename(new, target)
    except BaseException:
        for new, target, old in reversed(done):
            if old is not None and old.exists():
                if target.exists():
                    os.rename(target, new)
                os.rename(old, target)
        raise
    for _, _, old in done:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def file_digest(path) -> str:
    """Return the SHA-256 of a file's contents, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock on ``path`` (created if needed): one builder at a time."""
    import fcntl  # POSIX only: imported here so that writing files works on any system

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def unpack_tarball(tarball, folder, check: Callable[[Path], None] | None = None) -> Path:
    """Return the tree unpacked from ``tarball`` into ``folder``/<name>-<digest> (once, under a
    lock, atomically: a half-unpacked tree is never left under the final name).

    A tarball holding one top folder gives that folder's contents. ``check(tree)`` may refuse
    the unpacked tree (raise) before it is moved into place."""
    tarball, folder = Path(tarball), Path(folder)
    tag = f"{tarball.name.split('.tar')[0]}-{file_digest(tarball)[:12]}"
    target = folder / tag
    with locked(folder / f"{tag}.lock"):
        if not (target / ".complete").is_file():
            staging = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=folder))
            try:
                with tarfile.open(tarball) as tar:
                    tar.extractall(staging, filter="data")
                tops = [p for p in staging.iterdir() if p.is_dir()]
                tree = tops[0] if len(tops) == 1 else staging
                if check is not None:
                    check(tree)
                (tree / ".complete").write_text(str(tarball) + "\n")
                if target.exists():
                    shutil.rmtree(target)
                os.replace(tree, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target
