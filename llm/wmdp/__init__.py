"""WMDP-style hazardous-knowledge unlearning: the published format, an offline fictional corpus in that layout,
multiple-choice accuracy as lm-evaluation-harness computes it, and the fair-protocol bench (docs/wmdp.md)."""

from llm.wmdp.loaders import load_hub, load_mc, load_mc_files, load_texts
from llm.wmdp.schema import N_CHOICES, MCQuestion

__all__ = ["N_CHOICES", "MCQuestion", "load_hub", "load_mc", "load_mc_files", "load_texts"]
