"""The embedded default language model: a small GPT-2 built from a config, with a BPE tokenizer
trained on the corpus. Nothing is downloaded.

Sizes (with the default 1,024-token vocabulary, tied embeddings): ``micro`` d=32, 2 layers (~60 k
parameters, for fast tests), ``tiny`` d=128, 2 layers (~0.5 M parameters, the LLM bench's default: it
memorises the 40-author corpus in 40 epochs, see docs/llm.md), ``small`` d=256, 4 layers (~3.4 M, the
default of :func:`build_embedded`), ``medium`` d=384, 6 layers (~11 M). Building is deterministic given
``seed`` and leaves the global torch RNG untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from llm.data.schema import QAItem
from llm.prompts import PROMPTS, PromptTemplate
from ofmu_theory.registry import Registry

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"


@dataclass(frozen=True, kw_only=True)
class EmbeddedLMConfig:
    """Architecture of the embedded GPT-2 (``vocab_size`` comes from the tokenizer).

    Attributes:
        n_embd: model width d.
        n_layer: transformer blocks.
        n_head: attention heads (must divide ``n_embd``).
        n_positions: longest sequence.
        dropout: residual, embedding and attention dropout.
    """

    n_embd: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_positions: int = 256
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("n_embd", "n_layer", "n_head", "n_positions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_head must divide n_embd, got n_embd={self.n_embd}, n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got dropout={self.dropout!r}")


EMBEDDED_SIZES: Registry[EmbeddedLMConfig] = Registry("embedded model size")
EMBEDDED_SIZES.register("micro")(EmbeddedLMConfig(n_embd=32, n_layer=2, n_head=2, n_positions=128))  # tests only
EMBEDDED_SIZES.register("tiny")(EmbeddedLMConfig(n_embd=128, n_layer=2, n_head=4))
EMBEDDED_SIZES.register("small")(EmbeddedLMConfig(n_embd=256, n_layer=4, n_head=4))
EMBEDDED_SIZES.register("medium")(EmbeddedLMConfig(n_embd=384, n_layer=6, n_head=6))


def corpus_texts(items: Iterable[QAItem], template: PromptTemplate | None = None) -> list[str]:
    """Every prompt+answer string of ``items`` (true, paraphrased and perturbed), for tokenizer training."""
    tpl = template if template is not None else PROMPTS.get("plain")
    texts = []
    for item in items:
        texts.append(tpl.wrap(item.question) + item.answer)
        if item.paraphrased_question:
            texts.append(tpl.wrap(item.paraphrased_question) + (item.paraphrased_answer or item.answer))
        texts.extend(tpl.wrap(item.question) + wrong for wrong in item.perturbed_answer or ())
    return texts


def train_tokenizer(
    texts: Sequence[str], *, vocab_size: int = 1024, min_frequency: int = 2, model_max_length: int = 256
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts`` (deterministic for the same texts in the same order).

    The byte alphabet is always included, so any text encodes; ``<|endoftext|>`` is EOS and
    ``<|pad|>`` the pad token. No BOS is added.
    """
    if not texts:
        raise ValueError("texts must not be empty")
    if vocab_size < 260:
        raise ValueError(f"vocab_size must be >= 260 (256 bytes + specials), got {vocab_size=}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN,
                                   model_max_length=model_max_length)


def build_model(
    tokenizer: PreTrainedTokenizerFast, *, size: str | EmbeddedLMConfig = "small", seed: int = 0
) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 for ``tokenizer``, in eval mode (call ``.train()`` to train).

    Args:
        tokenizer: gives ``vocab_size`` and the EOS / pad ids.
        size: a name in :data:`EMBEDDED_SIZES` or an :class:`EmbeddedLMConfig`.
        seed: initialisation seed (the global torch RNG state is restored afterwards).
    """
    arch = EMBEDDED_SIZES.get(size) if isinstance(size, str) else size
    if not isinstance(arch, EmbeddedLMConfig):
        raise ValueError(f"size must be a name in {EMBEDDED_SIZES.names()} or an EmbeddedLMConfig, got {size!r}")
    if tokenizer.eos_token_id is None or tokenizer.pad_token_id is None:
        raise ValueError("tokenizer must have eos and pad tokens (use llm.models.train_tokenizer)")
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=arch.n_positions, n_embd=arch.n_embd, n_layer=arch.n_layer,
        n_head=arch.n_head, resid_pdrop=arch.dropout, embd_pdrop=arch.dropout, attn_pdrop=arch.dropout,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    model.generation_config = GenerationConfig(
        do_sample=False, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    return model.eval()


def build_embedded(
    items: Sequence[QAItem], *, size: str | EmbeddedLMConfig = "small", vocab_size: int = 1024, seed: int = 0,
    template: PromptTemplate | None = None,
) -> tuple[GPT2LMHeadModel, PreTrainedTokenizerFast]:
    """Train a tokenizer on ``items`` and build an untrained model for it (the embedded default)."""
    arch = EMBEDDED_SIZES.get(size) if isinstance(size, str) else size
    tokenizer = train_tokenizer(corpus_texts(items, template), vocab_size=vocab_size,
                                model_max_length=arch.n_positions)
    return build_model(tokenizer, size=arch, seed=seed), tokenizer


def describe(config: EmbeddedLMConfig) -> dict[str, object]:
    """The config as a plain dict (for run metadata)."""
    return asdict(config)
