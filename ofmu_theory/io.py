"""Atomic file output: nothing is ever written half.

Every report, table, figure, checkpoint and JSON file of the toolkit goes through these helpers:
the content is written to a temporary file in the destination folder, flushed, and renamed over
the target, so an interrupted run leaves either the old file or the new one. A command's whole output
(a folder or a file) is claimed with :func:`output_path` / :func:`output_dir`: checked writable and
locked before any work, refused when finished unless overwritten, staged and renamed into place at the end.
"""

from __future__ import annotations

import glob
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_dir(prefix: str, dir: str | os.PathLike[str]) -> Path:  # noqa: A002 - tempfile's name
    """``tempfile.mkdtemp`` with the mode a plain ``mkdir`` gives (0777 less the umask), not 0700."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
    os.chmod(folder, 0o777 & ~_umask())
    return folder


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed to ``path``.

    Use this for writers that want a file name (``savefig``, ``safetensors.save_file``).
    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``path`` only when the block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode=}")
    with atomic_path(path) as tmp:
        kwargs = {"encoding": "utf-8", "newline": "\n"} if mode == "w" else {}
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write ``text`` to ``path``."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def _finite_or_str(obj: Any) -> Any:
    """JSON has no NaN/inf: encode them as strings so files stay standard JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite_or_str(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_str(v) for v in obj]
    return obj


_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def from_jsonable(obj: Any) -> Any:
    """The inverse of the non-finite encoding of :func:`to_jsonable`: 'nan', 'inf', '-inf' become floats."""
    if isinstance(obj, str):
        return _NON_FINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    return obj


def to_jsonable(obj: Any) -> Any:
    """Convert numpy values, paths and ``to_dict`` objects into plain JSON values."""
    return _finite_or_str(json.loads(json.dumps(obj, default=_json_default, allow_nan=True)))


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: int = 2) -> None:
    """Atomically write ``obj`` as standard JSON (NaN and inf become the strings 'nan', 'inf')."""
    write_text(path, json.dumps(to_jsonable(obj), indent=indent, sort_keys=False) + "\n")


def save_figure(path: str | os.PathLike[str], fig: Any, **savefig_kwargs: Any) -> None:
    """Atomically save a matplotlib figure (PNG metadata stripped so reruns give identical bytes)."""
    kwargs: dict[str, Any] = {"dpi": 120, "bbox_inches": "tight", "metadata": {"Software": None}}
    kwargs.update(savefig_kwargs)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", **kwargs)


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and atomically move the result to ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)


# --- output locations of a command ------------------------------------------------------------------


class OutputError(OSError):
    """An output location that cannot be used: not writable, or in use by another run (exit status 3)."""


class OutputExists(ValueError):
    """An output location that already holds a finished result and no ``--overwrite`` (exit status 2)."""


def _missing_parents(folder: Path) -> list[Path]:
    """The ancestors of ``folder`` (itself included) that do not exist yet, outermost first."""
    missing = []
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            break
        missing.append(p)
    return missing[::-1]


def _not_writable(what: str, path: str | os.PathLike[str], err: OSError, folder: Path, hint: str) -> OutputError:
    """The one-line error for an output location whose ``folder`` cannot be created or written."""
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    why = f"{blocker} is a file, not a folder" if blocker else f"{err.strerror or err}: {err.filename or folder}"
    return OutputError(f"{what} {str(path)!r} is not writable ({why}); {hint}")


def _holder(lock_file: Path) -> str:
    try:
        text = lock_file.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "an unknown process"


@contextmanager
def _locked(lock_file: Path, *, target: str, what: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (created, holding 'pid N on HOST'; removed on release).

    A second holder fails at once naming the first (``wait``: waits for it instead, logging who it waits
    for). The lock dies with its process, so a killed run never blocks the next one (a stale file is simply
    locked again).
    """
    import fcntl  # noqa: PLC0415 - POSIX only
    import logging  # noqa: PLC0415
    import socket  # noqa: PLC0415

    while True:
        lock_file.parent.mkdir(parents=True, exist_ok=True)  # a holder we waited for may have removed it
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                raise OutputError(f"{what} {target!r} is in use by another run ({_holder(lock_file)}); wait for it "
                                  f"to finish or choose another {what}") from None
            logging.getLogger(__name__).info("waiting for %s: %s holds it", target, _holder(lock_file))
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_file).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its previous holder removed after we opened it
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        yield
    finally:
        try:
            lock_file.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)


@contextmanager
def hold_lock(path: str | os.PathLike[str], *, what: str, wait: bool = False) -> Iterator[None]:
    """Hold the one-run-at-a-time lock of ``path`` (a folder written in place, e.g. a checkpoint folder or a
    cache entry) without staging it: a second holder fails at once with :class:`OutputError` naming the
    first, or with ``wait`` waits for it. Parent folders it had to create are removed again when empty."""
    target = Path(path).absolute()
    created = _missing_parents(target.parent)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _not_writable(what, path, err, target.parent, "choose a location you can write") from None
    try:
        with _locked(target.parent / f".{target.name}.lock", target=str(path), what=what, wait=wait):
            yield
    finally:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                break


def _replace(tmp: Path, target: Path) -> None:
    """Move the finished ``tmp`` to ``target``, replacing an older ``target`` (never leaving a half one)."""
    old = None
    if target.is_dir() and not target.is_symlink():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        import shutil  # noqa: PLC0415

        shutil.rmtree(old, ignore_errors=True)


def check_writable(folder: str | os.PathLike[str], *, what: str) -> None:
    """Fail before any work when ``folder`` (created if missing, like a cache) cannot be written.

    Raises:
        OutputError: naming ``what`` (e.g. "the model cache") and the reason.
    """
    target = Path(folder)
    created = _missing_parents(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        for made in reversed(created):
            try:
                made.rmdir()
            except OSError:
                break
        raise _not_writable(what, target, err, target, "choose another location (e.g. set OFMU_CACHE) or fix "
                            "its permissions") from None


@contextmanager
def output_path(path: str | os.PathLike[str], *, overwrite: bool = False, kind: str = "dir",
                what: str = "--out") -> Iterator[Path]:
    """Claim an output location for one command and yield where to write it; it appears whole or not at all.

    Before any work: the location's folder is created and checked writable (a staging folder or file is
    made next to it), and one lock per location is taken (a second run into it fails at once, naming the
    holder's pid and host). A location that already holds a result is refused unless ``overwrite``. The
    command writes into the yielded staging path (``kind="dir"``: a folder, ``"file"``: a file path); when
    the block succeeds it is renamed to ``path`` (unless the command wrote nothing into it); when it fails (any exception, an interrupt included)
    the staging path, the lock and any parent folder this call created are removed. Modes follow the umask.
    Staging folders a killed run left (no cleanup runs on SIGKILL) are removed once the lock is held.

    Args:
        path: the output folder (``kind="dir"``) or file (``kind="file"``).
        overwrite: replace a finished ``path``.
        kind: ``"dir"`` or ``"file"``.
        what: the argument named in errors (``--out``, ``--json``).

    Raises:
        OutputError: the location cannot be written, or another run holds it.
        OutputExists: ``path`` holds a result and ``overwrite`` is False.
    """
    import shutil  # noqa: PLC0415

    if kind not in ("dir", "file"):
        raise ValueError(f"kind must be 'dir' or 'file', got {kind=!r}")
    target = Path(path).absolute()
    if not target.name or target.name in (".", ".."):
        raise ValueError(f"{what} must name a {'folder' if kind == 'dir' else 'file'}, got {str(path)!r}")
    parent = target.parent
    created = _missing_parents(parent)
    staging: Path | None = None
    try:
        try:
            parent.mkdir(parents=True, exist_ok=True)
            if kind == "dir":
                staging = temp_dir(f".{target.name}.tmp-", parent)
            else:
                fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", suffix=target.suffix or ".tmp", dir=parent)
                os.close(fd)
                staging = Path(name)
                os.chmod(staging, 0o666 & ~_umask())
        except OSError as err:
            raise _not_writable(what, path, err, parent, "choose a location you can write") from None
        with _locked(parent / f".{target.name}.lock", target=str(path), what=what):
            for stale in parent.glob(f".{glob.escape(target.name)}.*-*"):  # left by a killed run (SIGKILL)
                if stale == staging or not stale.name.startswith((f".{target.name}.tmp-", f".{target.name}.old-")):
                    continue
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
            if target.exists() or target.is_symlink():
                if kind == "dir" and not target.is_dir():
                    raise OutputExists(f"{what} {str(path)!r} is a file, not a folder")
                if kind == "file" and target.is_dir():
                    raise OutputExists(f"{what} {str(path)!r} is a folder, not a file")
                finished = kind == "file" or any(target.iterdir())
                if finished and not overwrite:
                    raise OutputExists(f"{what} {str(path)!r} already holds a finished result; pass --overwrite to "
                                       f"replace it, or choose another {what}")
            yield staging
            # a command that wrote nothing (e.g. a diverged run) leaves nothing: no empty result appears
            if staging.exists() and (any(staging.iterdir()) if staging.is_dir() else staging.stat().st_size):
                os.chmod(staging, (0o777 if staging.is_dir() else 0o666) & ~_umask())
                _replace(staging, target)
                staging = None
                created = []
    finally:
        if staging is not None:
            if staging.is_dir():
                shutil.rmtree(staging, ignore_errors=True)
            else:
                staging.unlink(missing_ok=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                break


@contextmanager
def work_dir(path: str | os.PathLike[str], *, finished: str, overwrite: bool = False,
             what: str = "--out") -> Iterator[Path]:
    """Claim a folder that a resumable command fills in place (its per-run cache, then its report).

    Unlike :func:`output_dir` nothing is staged: the cached runs of an interrupted command stay, and a rerun
    continues from them. Before any work the folder is checked writable and locked (a second run fails at
    once, naming the first); a folder that holds the file ``finished`` (the report written last) is refused
    unless ``overwrite``. The command writes each file atomically.

    Raises:
        OutputError: the folder cannot be written, or another run holds it.
        OutputExists: ``finished`` exists in it and ``overwrite`` is False.
    """
    folder = Path(path)
    with hold_lock(folder, what=what):
        if folder.exists() and not folder.is_dir():
            raise OutputExists(f"{what} {str(path)!r} is a file, not a folder")
        if (folder / finished).exists() and not overwrite:
            raise OutputExists(f"{what} {str(path)!r} already holds a finished result ({finished}); pass "
                               f"--overwrite to replace it (its cached runs are reused), or choose another {what}")
        check_writable(folder, what=what)
        yield folder


def output_dir(path: str | os.PathLike[str], *, overwrite: bool = False,
               what: str = "--out") -> AbstractContextManager[Path]:
    """:func:`output_path` for an output folder (the staging folder is yielded)."""
    return output_path(path, overwrite=overwrite, kind="dir", what=what)
