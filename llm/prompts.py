"""Prompt templates, as OpenUnlearning configures them per model (its ``template_args``).

A template either wraps the question in literal tags (``user_start_tag + question + user_end_tag +
asst_start_tag``, the answer following directly) or defers to the tokenizer's chat template
(``apply_chat_template``), optionally with a system prompt and a date string (Llama-3). The
answer is appended without ``asst_end_tag``; that tag only closes in-context examples in
OpenUnlearning. Look templates up by name in :data:`PROMPTS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.registry import Registry


@dataclass(frozen=True, kw_only=True)
class PromptTemplate:
    """How a question is turned into a prompt (OpenUnlearning's ``template_args``).

    Attributes:
        apply_chat_template: use ``tokenizer.apply_chat_template`` instead of the literal tags.
        system_prompt: system message for the chat template (None: the tokenizer's default, if any).
        date_string: passed to chat templates that print a date (Llama-3); None leaves it out.
        system_prompt_with_special_tokens: literal prefix before the first user tag (tag mode).
        user_start_tag: text before the question (tag mode).
        user_end_tag: text after the question (tag mode).
        asst_start_tag: text between the question and the answer (tag mode).
        asst_end_tag: text after an in-context answer (tag mode; kept for completeness).
    """

    apply_chat_template: bool = False
    system_prompt: str | None = None
    date_string: str | None = None
    system_prompt_with_special_tokens: str = ""
    user_start_tag: str = ""
    user_end_tag: str = ""
    asst_start_tag: str = ""
    asst_end_tag: str = ""

    def wrap(self, question: str) -> str:
        """The literal prompt for ``question`` (tag mode only); the answer is appended to it directly."""
        if self.apply_chat_template:
            raise ValueError("this template uses the tokenizer's chat template; use llm.tokenization.prompt_ids")
        return (self.system_prompt_with_special_tokens + self.user_start_tag + question + self.user_end_tag
                + self.asst_start_tag)

    def chat(self, question: str, answer: str | None = None) -> list[dict[str, str]]:
        """Chat messages for ``question`` (and ``answer`` when given), with the system prompt if any."""
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        messages.append({"role": "user", "content": question})
        if answer is not None:
            messages.append({"role": "assistant", "content": answer})
        return messages


PROMPTS: Registry[PromptTemplate] = Registry("prompt template")

# OpenUnlearning configs/model/Llama-2-7b-chat-hf.yaml
PROMPTS.register("llama2", summary="[INST] question [/INST] answer (OpenUnlearning's Llama-2-7b-chat-hf)")(PromptTemplate(
    user_start_tag="[INST] ", user_end_tag=" [/INST]", asst_start_tag="", asst_end_tag=" "))
# OpenUnlearning configs/model/phi-1_5.yaml
PROMPTS.register("phi", summary="Question: … / Answer: … (OpenUnlearning's phi-1_5; a hub model without a chat template)")(PromptTemplate(
    user_start_tag="Question: ", user_end_tag="\n", asst_start_tag="Answer: ", asst_end_tag="\n\n"))
# OpenUnlearning configs/model/Llama-3.1-8B-Instruct.yaml (chat template with system prompt and date)
PROMPTS.register("llama3", summary="the tokenizer's chat template with a system prompt and date (OpenUnlearning's Llama-3.1-8B-Instruct)")(PromptTemplate(
    apply_chat_template=True, system_prompt="You are a helpful assistant.", date_string="10 Apr 2025"))
# Any chat model with the tokenizer's own defaults (SmolLM2 inserts its default system prompt).
PROMPTS.register("chat", summary="the tokenizer's chat template with its own defaults (a hub model that has one)")(PromptTemplate(apply_chat_template=True))
PROMPTS.register("smollm2", summary="the chat template of SmolLM2 (its default system prompt)")(PromptTemplate(apply_chat_template=True))
# The embedded GPT-2-style model. The prompt ends in a newline so the prompt's tokens are a prefix of
# the prompt+answer tokens under a byte-level BPE (a trailing space would merge into the answer's first word).
PROMPTS.register("plain", summary="Question: … / Answer: on its own line (the embedded model)")(PromptTemplate(
    user_start_tag="Question: ", user_end_tag="\n", asst_start_tag="Answer:\n", asst_end_tag="\n\n"))


def get_prompt(name: str) -> PromptTemplate:
    """The registered template called ``name``; an unknown name lists the valid ones."""
    return PROMPTS.get(name)
