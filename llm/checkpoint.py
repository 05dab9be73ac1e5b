"""Resumable checkpoints of a core run: the solver state (θ, transform moments, k, draw counter), the
trace so far and the method's config, written atomically.

Layout of a checkpoint folder::

    latest.json              {"step": k, "folder": "step-000040"}   (atomic; written after the step folder)
    step-000040/state.safetensors   every tensor of the solver state, keyed by its path in the state
    step-000040/state.json          the state's structure (named tuples, tuples, scalars), the trace
                                     rows, cumulative oracle counts and the caller's metadata

The sampler position is the state's ``draws`` counter (samplers are pure functions of it), so
``Solver.run(problem, init_state=state)`` continues exactly where the run stopped. Tensors are stored
with safetensors only; named tuples are rebuilt only from classes of the ``ofmu_theory`` package.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ofmu_theory.io import to_jsonable, write_json
from ofmu_theory.result import Trace

FORMAT = "ofmu-llm-checkpoint/1"
_ALLOWED_PREFIX = "ofmu_theory."


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        state: the solver state to pass as ``init_state``.
        trace: the trace rows of the steps done so far.
        counts: cumulative oracle counts and wall time (``n_value, n_grad, n_hvp, n_third, wall_s``).
        meta: what the caller stored (method config, run settings).
    """

    state: Any
    trace: Trace
    counts: dict[str, float]
    meta: dict[str, Any]


def _flatten(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = path or "root"
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {"tensor": key, "device": str(obj.device)}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        cls = type(obj)
        if not cls.__module__.startswith(_ALLOWED_PREFIX):
            raise ValueError(f"cannot checkpoint state type {cls.__module__}.{cls.__qualname__}")
        return {"namedtuple": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f: _flatten(getattr(obj, f), f"{path}.{f}", tensors) for f in obj._fields}}
    if isinstance(obj, (tuple, list)):
        return {"tuple": [_flatten(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, np.generic):
        return {"value": obj.item()}
    raise ValueError(f"cannot checkpoint a state entry of type {type(obj).__name__} at {path or 'root'!r}")


def _unflatten(tree: Any, tensors: dict[str, torch.Tensor], device: torch.device | str | None = None) -> Any:
    if "tensor" in tree:
        return tensors[tree["tensor"]].to(device if device is not None else tree.get("device", "cpu"))
    if "namedtuple" in tree:
        module_name, _, qualname = tree["namedtuple"].partition(":")
        if not module_name.startswith(_ALLOWED_PREFIX):
            raise ValueError(f"checkpoint names a state type outside ofmu_theory: {tree['namedtuple']!r}")
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        return cls(**{f: _unflatten(v, tensors, device) for f, v in tree["fields"].items()})
    if "tuple" in tree:
        return tuple(_unflatten(v, tensors, device) for v in tree["tuple"])
    return tree["value"]


def save_checkpoint(folder: str | os.PathLike[str], *, state: Any, trace: Trace, counts: dict[str, float],
                    meta: dict[str, Any]) -> Path:
    """Write the checkpoint of step ``state.k`` into ``folder`` atomically and drop older ones.

    Returns:
        The step folder written.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    step = int(state.k)
    name = f"step-{step:06d}"
    tensors: dict[str, torch.Tensor] = {}
    structure = _flatten(state, "", tensors)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        save_file(tensors, str(tmp / "state.safetensors"), metadata={"format": FORMAT})
        write_json(tmp / "state.json", {"format": FORMAT, "step": step, "structure": structure,
                                        "trace": trace.to_dict(), "counts": counts, "meta": to_jsonable(meta)})
        target = root / name
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    write_json(root / "latest.json", {"format": FORMAT, "step": step, "folder": name})
    for old in root.glob("step-*"):
        if old.name != name and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return target


def has_checkpoint(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds a complete checkpoint."""
    return (Path(folder) / "latest.json").is_file()


def load_checkpoint(folder: str | os.PathLike[str], *, device: torch.device | str | None = None) -> Checkpoint:
    """Read the latest checkpoint of ``folder``.

    Args:
        device: put every tensor there (None: the device it was saved from). Under data parallelism each
            rank loads rank 0's checkpoint onto its own device.

    Raises:
        ValueError: no checkpoint there, or files of another format.
    """
    root = Path(folder)
    if not has_checkpoint(root):
        raise ValueError(f"no checkpoint in {str(root)!r} (latest.json missing)")
    latest = json.loads((root / "latest.json").read_text(encoding="utf-8"))
    if latest.get("format") != FORMAT:
        raise ValueError(f"checkpoint format {latest.get('format')!r} is not {FORMAT!r}")
    step_dir = root / latest["folder"]
    info = json.loads((step_dir / "state.json").read_text(encoding="utf-8"))
    tensors = load_file(str(step_dir / "state.safetensors"))
    state = _unflatten(info["structure"], tensors, device)
    trace = Trace({k: np.asarray([float(x) for x in v], dtype=np.float64) for k, v in info["trace"].items()})
    return Checkpoint(state=state, trace=trace, counts={k: float(v) for k, v in info["counts"].items()},
                      meta=info["meta"])
