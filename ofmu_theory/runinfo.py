"""What every run records beside its results: seed, versions, devices, resolved config."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_LIBRARIES = (
    "numpy", "scipy", "torch", "cvxpy", "scikit-learn", "transformers", "tokenizers",
    "peft", "safetensors", "rouge-score", "hypothesis", "matplotlib",
)


def library_versions(names: Iterable[str] = _LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries results depend on ('absent' when not installed)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def device_info() -> dict[str, Any]:
    """Torch device facts (device count, CUDA name, world size) where torch is importable."""
    info: dict[str, Any] = {"platform": platform.platform(), "cpu_threads": None}
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return info
    info["cpu_threads"] = torch.get_num_threads()
    info["cuda_device_count"] = torch.cuda.device_count()
    if torch.cuda.is_available():
        info["cuda_device_name"] = torch.cuda.get_device_name(0)
    dist = torch.distributed
    info["world_size"] = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    return info


def run_metadata(*, seed: int, config: dict[str, Any]) -> dict[str, Any]:
    """The block written beside every result: seed, resolved config, versions, devices, argv."""
    return {
        "seed": seed,
        "config": config,
        "versions": library_versions(),
        "devices": device_info(),
        "argv": [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else [],  # no machine path of the script
    }


#: Set to "0" to turn every progress bar off (the commands' ``--quiet`` does, for the command's duration).
PROGRESS_ENV = "OFMU_PROGRESS"


_LABEL: list[str] = []


@contextmanager
def progress_label(label: str) -> Iterator[None]:
    """Label every progress bar opened in the block ``label`` instead of its own ``desc`` (e.g. "fine-tuning
    target" for a run of the ``scalarized`` solver that fine-tunes a model)."""
    _LABEL.append(label)
    try:
        yield
    finally:
        _LABEL.pop()


def progress(iterable: Iterable[T], *, desc: str, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """A tqdm progress bar on stderr, disabled when ``enabled`` is False or :data:`PROGRESS_ENV` is "0"."""
    import os

    from tqdm.auto import tqdm

    disable = (not enabled) or os.environ.get(PROGRESS_ENV, "1") == "0"
    label = _LABEL[-1] if _LABEL else desc
    yield from tqdm(iterable, desc=label, total=total, disable=disable, leave=False, dynamic_ncols=True)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads (None: leave torch's setting), then restore it.

    The thread count is part of a CPU run's identity: it changes the order of floating-point sums in
    convolutions and matrix products, so long training runs with the same seed but another thread count
    end at different weights.

    Raises:
        ValueError: ``threads`` is not None and not an int >= 1.
    """
    import torch  # noqa: PLC0415 (the numpy backend does not need torch)

    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1 or None, got threads={threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
