"""Causal language models: the embedded GPT-2 default, any hub / local model, and SmolLM2 offline."""

from llm.models.embedded import (
    EMBEDDED_SIZES,
    EmbeddedLMConfig,
    build_embedded,
    build_model,
    corpus_texts,
    train_tokenizer,
)
from llm.models.hub import load_pretrained, resolve_dtype, set_pad_token
from llm.models.smollm2 import default_cache_dir, load_smollm2
from llm.models.storage import save_pretrained, save_state_dict

__all__ = [
    "EMBEDDED_SIZES", "EmbeddedLMConfig", "build_embedded", "build_model", "corpus_texts", "default_cache_dir",
    "load_pretrained", "load_smollm2", "resolve_dtype", "save_pretrained", "save_state_dict", "set_pad_token",
    "train_tokenizer",
]
