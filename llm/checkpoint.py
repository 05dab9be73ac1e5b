"""Resumable checkpoints of a core run: the solver state (θ, transform moments, k, draw counter), the
trace so far and the method's config, written atomically.

Layout of a checkpoint folder::

    latest.json              {"step": k, "folder": "step-000040"}   (atomic; written after the step folder)
    step-000040/state.safetensors   every tensor of the solver state, keyed by its path in the state
    step-000040/state.json          the state's structure (state types by registry name, tuples, scalars),
                                     the trace rows, cumulative oracle counts and the caller's metadata

**Sharded runs** (FSDP2, :mod:`llm.sharding`): the state's θ and moments are DTensors, one shard per rank.
Every rank then writes its shards with ``torch.distributed.checkpoint`` into ``step-000040/state.dcp/``
(rank 0 writes ``state.json``, which lists each tensor's global shape and dtype, under ``"storage": "dcp"``).
Reading builds empty tensors of those shapes — sharded like the resuming run's parameters when it is
sharded (any number of ranks: DCP reshards), whole tensors otherwise — and lets DCP fill them.

The sampler position is the state's ``draws`` counter (samplers are pure functions of it), so
``Solver.run(problem, init_state=state)`` continues exactly where the run stopped.

**A checkpoint is data.** Tensors are stored with safetensors only. A state's named tuples are stored by
their name in :data:`ofmu_theory.states.STATES` and reading rebuilds only those registered classes, with
exactly their fields; nothing in the files is imported or called. :func:`load_checkpoint` compares the
stored metadata with the caller's (``expect_meta``) before it rebuilds anything.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import ofmu_theory.solvers  # noqa: F401  (registers every solver and transform state type)
from ofmu_theory.io import temp_dir, to_jsonable, write_json
from ofmu_theory.result import Trace
from ofmu_theory.states import STATES

FORMAT = "ofmu-llm-checkpoint/2"
"""Version 2 names state types by registry name (version 1 stored import paths and is refused)."""


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be read: missing files, another format, or a malformed structure."""


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


def _is_dtensor(t: Any) -> bool:
    try:
        from torch.distributed.tensor import DTensor  # noqa: PLC0415
    except ImportError:
        return False
    return isinstance(t, DTensor)


def _flatten(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = path or "root"
        # a shard stays where it is (DCP writes each rank's own); a whole tensor is copied to the CPU
        tensors[key] = obj.detach() if _is_dtensor(obj) else obj.detach().to("cpu").contiguous().clone()
        return {"tensor": key, "device": str(obj.device)}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return {"state": STATES.name_of(type(obj)),
                "fields": {f: _flatten(getattr(obj, f), f"{path}.{f}", tensors) for f in obj._fields}}
    if isinstance(obj, (tuple, list)):
        return {"tuple": [_flatten(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, np.generic):
        return {"value": obj.item()}
    raise ValueError(f"cannot checkpoint a state entry of type {type(obj).__name__} at {path or 'root'!r}")


_NODE_KEYS = ({"tensor", "device"}, {"state", "fields"}, {"tuple"}, {"value"})


def _unflatten(tree: Any, tensors: Mapping[str, torch.Tensor], device: torch.device | str | None, where: str) -> Any:
    """Rebuild a state from its structure: registered state types, tuples, scalars and stored tensors only."""
    if not isinstance(tree, dict) or set(tree) not in _NODE_KEYS:
        keys = sorted(tree) if isinstance(tree, dict) else type(tree).__name__
        raise CheckpointError(f"{where}: malformed state entry {keys}; expected one of "
                              f"{[sorted(k) for k in _NODE_KEYS]}")
    if "tensor" in tree:
        key = tree["tensor"]
        if not isinstance(key, str) or key not in tensors:
            raise CheckpointError(f"{where}: state entry names tensor {key!r}, which state.safetensors lacks")
        if _is_dtensor(tensors[key]):  # already on the resuming run's mesh and devices
            return tensors[key]
        target = device if device is not None else tree["device"]
        try:
            return tensors[key].to(torch.device(target))
        except (RuntimeError, TypeError) as err:
            raise CheckpointError(f"{where}: bad device {target!r} for tensor {key!r} ({err})") from None
    if "state" in tree:
        name, fields = tree["state"], tree["fields"]
        if not isinstance(name, str) or name not in STATES:
            raise CheckpointError(f"{where}: unknown state type {name!r}; a checkpoint may only name "
                                  f"{', '.join(STATES.names())}")
        cls = STATES.get(name)
        if not isinstance(fields, dict) or list(fields) != list(cls._fields):
            got = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
            raise CheckpointError(f"{where}: state type {name!r} has fields {list(cls._fields)}, the file gives {got}")
        return cls(*(_unflatten(v, tensors, device, where) for v in fields.values()))
    if "tuple" in tree:
        if not isinstance(tree["tuple"], list):
            raise CheckpointError(f"{where}: a tuple entry must hold a list, got {type(tree['tuple']).__name__}")
        return tuple(_unflatten(v, tensors, device, where) for v in tree["tuple"])
    value = tree["value"]
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise CheckpointError(f"{where}: a value entry must be a scalar, got {type(value).__name__}")
    return value


def save_checkpoint(folder: str | os.PathLike[str], *, state: Any, trace: Trace, counts: dict[str, float],
                    meta: dict[str, Any]) -> Path:
    """Write the checkpoint of step ``state.k`` into ``folder`` atomically and drop older ones.

    Returns:
        The step folder written.
    """
    root = Path(folder)
    step = int(state.k)
    name = f"step-{step:06d}"
    tensors: dict[str, torch.Tensor] = {}
    structure = _flatten(state, "", tensors)
    if any(_is_dtensor(t) for t in tensors.values()):
        return _save_sharded(root, name, step, tensors, structure, trace=trace, counts=counts, meta=meta)
    root.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(f".{name}.", root)
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


def _save_sharded(root: Path, name: str, step: int, tensors: dict[str, torch.Tensor], structure: Any, *,
                  trace: Trace, counts: dict[str, float], meta: dict[str, Any]) -> Path:
    """The sharded layout (collective: every rank calls it): DCP writes the shards, rank 0 the rest."""
    import torch.distributed as dist  # noqa: PLC0415
    import torch.distributed.checkpoint as dcp  # noqa: PLC0415

    main = dist.get_rank() == 0
    partial, target = root / f".{name}.partial", root / name
    if main:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
    dist.barrier()  # the folder exists before any rank writes into it
    dcp.save(tensors, checkpoint_id=str(partial / "state.dcp"))
    if main:
        specs = {k: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."), "sharded": _is_dtensor(t)}
                 for k, t in tensors.items()}
        write_json(partial / "state.json", {"format": FORMAT, "step": step, "storage": "dcp", "tensors": specs,
                                            "structure": structure, "trace": trace.to_dict(), "counts": counts,
                                            "meta": to_jsonable(meta)})
        if target.exists():
            shutil.rmtree(target)
        os.replace(partial, target)
        write_json(root / "latest.json", {"format": FORMAT, "step": step, "folder": name})
        for old in root.glob("step-*"):
            if old.name != name and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    dist.barrier()  # no rank goes on before the checkpoint is complete
    return target


def _load_sharded(step_dir: Path, info: dict[str, Any], device: torch.device | str | None,
                  mesh: Any) -> dict[str, torch.Tensor]:
    """Empty tensors shaped as ``state.json`` lists them (sharded on ``mesh`` when given), filled by DCP."""
    import torch.distributed.checkpoint as dcp  # noqa: PLC0415
    from torch.distributed.checkpoint.api import CheckpointException  # noqa: PLC0415

    specs = info.get("tensors")
    if not isinstance(specs, dict):
        raise CheckpointError(f"{step_dir / 'state.json'}: a 'dcp' checkpoint needs a 'tensors' table")
    templates: dict[str, torch.Tensor] = {}
    for key, spec in specs.items():
        try:
            shape, dtype, sharded = [int(n) for n in spec["shape"]], getattr(torch, spec["dtype"]), spec["sharded"]
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{step_dir / 'state.json'}: bad tensor entry {key!r} ({err})") from None
        if not isinstance(dtype, torch.dtype):
            raise CheckpointError(f"{step_dir / 'state.json'}: tensor {key!r} has no dtype {spec['dtype']!r}")
        if sharded and mesh is not None:
            from torch.distributed.tensor import Shard, empty  # noqa: PLC0415

            templates[key] = empty(*shape, dtype=dtype, device_mesh=mesh, placements=[Shard(0)])
        else:
            templates[key] = torch.empty(shape, dtype=dtype, device=device if device is not None else "cpu")
    try:
        dcp.load(templates, checkpoint_id=str(step_dir / "state.dcp"))
    except (CheckpointException, OSError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"{step_dir / 'state.dcp'}: cannot read ({str(err).splitlines()[0]})") from None
    return templates


def has_checkpoint(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds a complete checkpoint."""
    return (Path(folder) / "latest.json").is_file()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing (incomplete checkpoint)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {data.get('format')!r} is not {FORMAT!r} (written by "
                              "another version); delete the checkpoint folder or run without --resume")
    return data


def _flat_items(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat_items(v, f"{prefix}{k}."))
        return out if obj else {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): obj}


def meta_differences(stored: Any, current: Any) -> list[str]:
    """``["method.beta: checkpoint 0.2, now 0.3", ...]`` — every dotted key whose value differs."""
    a, b = _flat_items(to_jsonable(stored)), _flat_items(to_jsonable(current))

    def show(flat: dict[str, Any], key: str) -> str:
        return repr(flat[key]) if key in flat else "(absent)"

    return [f"{k}: checkpoint {show(a, k)}, now {show(b, k)}" for k in sorted(set(a) | set(b))
            if k not in a or k not in b or a[k] != b[k]]


def load_checkpoint(folder: str | os.PathLike[str], *, device: torch.device | str | None = None,
                    expect_meta: Mapping[str, Any] | None = None, mesh: Any = None) -> Checkpoint:
    """Read the latest checkpoint of ``folder``.

    Args:
        device: put every tensor there (None: the device it was saved from). Under data parallelism each
            rank loads rank 0's checkpoint onto its own device.
        expect_meta: the caller's metadata; checked against the stored one before anything is rebuilt.
        mesh: the resuming run's device mesh when it is sharded (FSDP): θ and the moments are loaded as
            DTensors sharded on it, whatever the number of ranks that wrote them.

    Raises:
        CheckpointError: no checkpoint there, files of another format, a malformed structure (e.g. a state
            type that is not registered), or metadata that differs from ``expect_meta`` (naming the keys).
    """
    root = Path(folder)
    if not has_checkpoint(root):
        raise CheckpointError(f"no checkpoint in {str(root)!r} (latest.json missing)")
    latest = _read_json(root / "latest.json")
    name = latest.get("folder")
    if not isinstance(name, str) or not name.startswith("step-") or "/" in name or "\\" in name or ".." in name:
        raise CheckpointError(f"{root / 'latest.json'}: bad step folder {name!r}")
    step_dir = root / name
    info = _read_json(step_dir / "state.json")
    missing = {"structure", "trace", "counts", "meta"} - set(info)
    if missing:
        raise CheckpointError(f"{step_dir / 'state.json'}: missing key(s) {sorted(missing)}")
    if expect_meta is not None:
        diff = meta_differences(info["meta"], expect_meta)
        if diff:
            raise CheckpointError(f"the checkpoint in {str(root)!r} was written with other settings ("
                                  + "; ".join(diff) + "); use the same settings, or another --checkpoint-dir")
    if info.get("storage") == "dcp":
        tensors = _load_sharded(step_dir, info, device, mesh)
    elif mesh is not None:
        raise CheckpointError(f"the checkpoint in {str(root)!r} was written by an unsharded run; resume it "
                              "without --shard")
    else:
        try:
            tensors = load_file(str(step_dir / "state.safetensors"))
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{step_dir / 'state.safetensors'}: cannot read ({err})") from None
    state = _unflatten(info["structure"], tensors, device, str(step_dir / "state.json"))
    try:
        trace = Trace({str(k): np.asarray([float(x) for x in v], dtype=np.float64) for k, v in info["trace"].items()})
        counts = {str(k): float(v) for k, v in info["counts"].items()}
    except (AttributeError, TypeError, ValueError) as err:
        raise CheckpointError(f"{step_dir / 'state.json'}: malformed trace or counts ({err})") from None
    return Checkpoint(state=state, trace=trace, counts=counts, meta=info["meta"])
