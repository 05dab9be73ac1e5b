"""Loading any causal LM and its tokenizer by hub name or local folder (AutoModelForCausalLM / AutoTokenizer).

Weights are read from safetensors only (``use_safetensors=True``) and remote code is off unless
the caller asks for it. A tokenizer without a pad token is an error unless the caller chooses one
(``pad_token="eos"``, ``"unk"`` or a token string already in the vocabulary): batching needs it,
and silently padding with EOS changes what models learn in training.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)
_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
           "float16": torch.float16, "fp16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | str | None:
    """``"auto"``, None, a torch dtype or one of ``float32/bfloat16/float16`` (and ``fp32/bf16/fp16``)."""
    if dtype is None or dtype == "auto" or isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be 'auto', a torch.dtype or one of {sorted(_DTYPES)}, got {dtype=!r}")
    return _DTYPES[dtype]


def dtype_kwargs(dtype: str | torch.dtype | None) -> dict[str, Any]:
    """``from_pretrained`` keyword for a dtype: ``dtype`` from transformers 4.56 on, ``torch_dtype`` before."""
    import transformers  # noqa: PLC0415

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": resolve_dtype(dtype)}


def set_pad_token(tokenizer: Any, pad_token: str | None, *, model: Any = None, source: str = "tokenizer") -> None:
    """Give ``tokenizer`` (and ``model``'s configs) a pad token, or check it has one.

    Args:
        tokenizer: the tokenizer to update in place.
        pad_token: None (keep the tokenizer's; error if it has none), ``"eos"``, ``"unk"``, or a token string
            already in the vocabulary.
        model: when given, its ``config.pad_token_id`` and ``generation_config.pad_token_id`` follow.
        source: name used in error messages.

    Raises:
        ValueError: if no pad token results, or the requested one does not exist.
    """
    if pad_token is None:
        if tokenizer.pad_token is None:
            raise ValueError(f"{source} has no pad token; pass pad_token='eos' (or 'unk', or a token string) "
                             "to choose one explicitly")
    elif pad_token in ("eos", "unk"):
        chosen = tokenizer.eos_token if pad_token == "eos" else tokenizer.unk_token
        if chosen is None:
            raise ValueError(f"pad_token={pad_token!r} but {source} has no {pad_token} token")
        tokenizer.pad_token = chosen
    else:
        token_id = tokenizer.convert_tokens_to_ids(pad_token)
        if token_id is None or token_id == tokenizer.unk_token_id and pad_token != tokenizer.unk_token:
            raise ValueError(f"pad_token={pad_token!r} is not a token of {source}'s vocabulary")
        tokenizer.pad_token = pad_token
    if model is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.pad_token_id = tokenizer.pad_token_id


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def check_weights(folder: Path) -> None:
    """Check that a local model folder holds readable safetensors weights (before transformers reads them).

    Raises:
        ValueError: only pickle weights (refused: unpickling can run code), no weights, or a safetensors file
            that is empty, truncated or corrupt (naming the file).
    """
    from safetensors import SafetensorError, safe_open  # noqa: PLC0415

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise ValueError(f"{folder} holds only pickle weights ({', '.join(pickles)}), which are refused: loading a "
                             "pickle can run code. Convert it to safetensors where you trust it "
                             "(model.save_pretrained(folder, safe_serialization=True))")
        raise ValueError(f"{folder} holds no model weights (no *.safetensors file)")
    for file in files:
        if file.stat().st_size == 0:
            raise ValueError(f"{file} is empty; re-create it (e.g. rerun the command that wrote it)")
        try:  # safetensors checks the header and that the data covers the file exactly (truncation)
            with safe_open(str(file), framework="pt"):
                pass
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{file} is not a readable safetensors file ({err}); it may be truncated or corrupt: "
                             "re-create it") from None


def check_finite(model: Any, source: str) -> None:
    """ValueError naming the first parameter of ``model`` that holds NaN or inf (its metrics would be meaningless)."""
    for name, param in model.named_parameters():
        if not bool(torch.isfinite(param).all()):
            raise ValueError(f"model {source!r} has non-finite weights (NaN or inf in {name!r}); it cannot be "
                             "evaluated — was it saved from a diverged run?")


def check_source(name_or_path: str | os.PathLike[str], *, revision: str | None = None,
                 local_files_only: bool = False) -> None:
    """Fail at once, with a hint, where loading would fail late: a local folder with unusable weights, a
    path that does not exist, or (offline: ``HF_HUB_OFFLINE=1`` or ``local_files_only``) a hub id that is not
    in the local Hugging Face cache (instead of transformers' retries and traceback).

    Raises:
        ValueError: see :func:`check_weights`.
        FileNotFoundError: a path (absolute, or starting with ``.``) that does not exist.
        OSError: offline and the hub id is not cached (an environment problem, exit status 3).
    """
    text = str(name_or_path)
    path = Path(text)
    if path.is_dir():
        check_weights(path)
        return
    if path.exists() or path.is_absolute() or text.startswith((".", "~")) or text.count("/") > 1:
        raise FileNotFoundError(f"model folder {text!r} does not exist")
    if local_files_only or _offline():
        from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415

        try:
            cached = try_to_load_from_cache(text, "config.json", revision=revision)
        except ValueError as err:  # not a valid repository id
            raise ValueError(f"model {text!r} is neither a local folder nor a hub id ({err})") from None
        if not isinstance(cached, str):
            why = "HF_HUB_OFFLINE is set" if _offline() else "local files only"
            raise OSError(f"model {text!r} is not in the local Hugging Face cache and the hub is off ({why}); "
                          f"download it where there is network (huggingface-cli download {text}) or pass a local folder")


def load_pretrained(
    name_or_path: str | os.PathLike[str], *, dtype: str | torch.dtype | None = "auto",
    attn_implementation: str | None = None, trust_remote_code: bool = False, pad_token: str | None = None,
    device: str | torch.device | None = None, revision: str | None = None, local_files_only: bool = False,
    tokenizer_name_or_path: str | os.PathLike[str] | None = None,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer, in eval mode.

    Args:
        name_or_path: a hub id (``"meta-llama/Llama-3.2-1B-Instruct"``) or a local folder.
        dtype: ``"auto"`` (the checkpoint's), a torch dtype or ``"float32"/"bfloat16"/"float16"``.
        attn_implementation: e.g. ``"eager"``, ``"sdpa"``, ``"flash_attention_2"``; None for the default.
        trust_remote_code: allow the repository's own modelling code (off by default).
        pad_token: see :func:`set_pad_token`.
        device: move the model there (``"cuda"``, ``"cpu"``); None leaves it where it loads.
        revision: a hub revision to pin.
        local_files_only: never touch the network.
        tokenizer_name_or_path: load the tokenizer from elsewhere (default: ``name_or_path``).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415 - keep import light

    check_source(name_or_path, revision=revision, local_files_only=local_files_only)
    source = str(name_or_path)
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "revision": revision,
                              "local_files_only": local_files_only}
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_name_or_path or name_or_path), **kwargs)
    model_kwargs = dict(kwargs, use_safetensors=True, **dtype_kwargs(dtype))
    if attn_implementation is not None:
        model_kwargs["attn_implementation"] = attn_implementation
    model = AutoModelForCausalLM.from_pretrained(source, **model_kwargs)
    set_pad_token(tokenizer, pad_token, model=model, source=source)
    if device is not None:
        model = model.to(device)
    logger.info("loaded %s (%s, %s)", source, type(model).__name__, model.dtype)
    return model.eval(), tokenizer
