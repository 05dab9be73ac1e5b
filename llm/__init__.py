"""LLM unlearning benchmarks: TOFU data, prompts, tokenisation, models, metrics, evaluation, and the
unlearning methods that hand their objectives to the OFMU core (docs/llm.md).

Importing the package registers its entries: prompt templates (:data:`llm.prompts.PROMPTS`), metrics
(:data:`llm.metrics.METRICS`) and unlearning methods (:data:`llm.methods.METHODS`).
"""

from llm import methods, metrics, prompts  # noqa: F401 - registers the entries
