"""A vision model as a safetensors file (the layout ``ofmu llm unlearn`` writes too), without the ``safetensors``
package, which only the ``llm`` extra installs.

The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON header
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`` and the tensors'
bytes, contiguous and little-endian. The model's :class:`~vision.models.ModelSpec` goes in the metadata, so
:func:`load_safetensors_model` rebuilds it; no code is ever loaded from the file.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from pathlib import Path

import torch
from torch import nn

from ofmu_theory.io import atomic_write_with
from vision.models import ModelSpec, build_model

FORMAT = "ofmu-vision-model/1"
_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
_BY_NAME = {v: k for k, v in _DTYPES.items()}


def save_safetensors_model(path: str | os.PathLike[str], model: nn.Module) -> None:
    """Write ``model``'s state dict and spec as one safetensors file, atomically."""
    spec = getattr(model, "spec", None)
    if not isinstance(spec, ModelSpec):
        raise ValueError("model has no ModelSpec in model.spec; build it with vision.models.build_model")
    header: dict[str, object] = {"__metadata__": {"format": FORMAT, "spec": json.dumps(spec.to_dict())}}
    blobs, offset = [], 0
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            raise ValueError(f"tensor {name!r} has dtype {t.dtype}, not storable in safetensors here")
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
            raise ValueError("safetensors needs a little-endian machine")
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the tensors start 8-byte aligned

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for blob in blobs:
                f.write(blob)

    atomic_write_with(path, write)


def load_safetensors_model(path: str | os.PathLike[str]) -> nn.Module:
    """Rebuild a model written by :func:`save_safetensors_model`.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a safetensors file of a vision model.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no model file at {file}")
    raw = file.read_bytes()
    try:
        (size,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + size])
        meta = header.pop("__metadata__")
        spec = ModelSpec(**json.loads(meta["spec"]))
    except (struct.error, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{file} is not a safetensors vision model ({err})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{file} is not a vision model (format {meta.get('format')!r}, expected {FORMAT!r})")
    body = raw[8 + size :]
    state = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = _BY_NAME[entry["dtype"]]
        flat = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.uint8) if end > begin else \
            torch.empty(0, dtype=torch.uint8)
        state[name] = flat.view(dtype).reshape(entry["shape"]).clone()
    model = build_model(spec.name, in_channels=spec.in_channels, num_classes=spec.num_classes, width=spec.width)
    model.load_state_dict(state, strict=True)
    return model
