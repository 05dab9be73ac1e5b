"""Saving a causal LM and its tokenizer to a folder: safetensors weights, config, tokenizer files.

Every file is written atomically (:mod:`ofmu_theory.io`). A tied output embedding (``lm_head``
sharing the input embedding) is left out of the safetensors file, which cannot hold shared
tensors; ``from_pretrained`` re-ties it from ``tie_word_embeddings``. Load the folder back with
:func:`llm.models.load_pretrained`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ofmu_theory.io import atomic_write_with, write_text

WEIGHTS_NAME = "model.safetensors"


def _tied_names(model: Any, state: dict[str, torch.Tensor]) -> set[str]:
    """Names in ``state`` that alias the input embedding (to be dropped), via tensor storage."""
    try:
        embedding = model.get_input_embeddings().weight
    except (AttributeError, NotImplementedError):
        return set()
    ptr = embedding.data_ptr()
    aliases = [name for name, t in state.items() if t.data_ptr() == ptr]
    if len(aliases) < 2:
        return set()
    keep = next((n for n in aliases if "embed" in n or "wte" in n), aliases[0])
    return {n for n in aliases if n != keep}


def save_state_dict(model: Any, path: str | os.PathLike[str]) -> list[str]:
    """Atomically write ``model``'s weights to ``path`` (safetensors), leaving out tied aliases.

    Returns:
        The names left out (e.g. ``["lm_head.weight"]`` for tied embeddings).
    """
    state = model.state_dict()
    dropped = _tied_names(model, state)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items() if k not in dropped}
    atomic_write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
    return sorted(dropped)


def save_pretrained(model: Any, tokenizer: Any, folder: str | os.PathLike[str]) -> list[Path]:
    """Save ``model`` (safetensors + ``config.json`` + ``generation_config.json``) and ``tokenizer``.

    Works for models ``save_pretrained`` refuses (e.g. GGUF-loaded ones). Returns the paths written.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    written = [root / WEIGHTS_NAME]
    save_state_dict(model, written[0])
    write_text(root / "config.json", model.config.to_json_string(use_diff=False))
    written.append(root / "config.json")
    generation = getattr(model, "generation_config", None)
    if generation is not None:
        write_text(root / "generation_config.json", generation.to_json_string(use_diff=True))
        written.append(root / "generation_config.json")
    with tempfile.TemporaryDirectory(dir=root, prefix=".tokenizer.") as tmp:
        tokenizer.save_pretrained(tmp)
        for src in sorted(Path(tmp).iterdir()):
            if src.is_file():
                atomic_write_with(root / src.name, lambda dst, src=src: shutil.copyfile(src, dst))
                written.append(root / src.name)
    return written
