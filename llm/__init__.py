"""LLM unlearning benchmarks: TOFU data, prompts, tokenisation, models, metrics and evaluation.

Importing the package registers its entries: prompt templates (:data:`llm.prompts.PROMPTS`) and
metrics (:data:`llm.metrics.METRICS`).
"""

from llm import metrics, prompts  # noqa: F401 - registers the entries
