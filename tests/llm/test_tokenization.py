"""Prompt templates, label masking, EOS, padding and length limits."""

from __future__ import annotations

import pytest
import torch

from llm.prompts import PROMPTS, PromptTemplate
from llm.tokenization import IGNORE_INDEX, collate, encode_pair, encode_prompt

CHAT_TEMPLATE = (
    "{% for m in messages %}<|pad|>{{ m['role'] }}\n{{ m['content'] }}<|endoftext|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|pad|>assistant\n{% endif %}"
)


def test_registered_templates_match_openunlearning():
    assert PROMPTS.get("llama2").wrap("Who?") == "[INST] Who? [/INST]"
    assert PROMPTS.get("phi").wrap("Who?") == "Question: Who?\nAnswer: "
    assert PROMPTS.get("plain").wrap("Who?") == "Question: Who?\nAnswer:\n"
    llama3 = PROMPTS.get("llama3")
    assert llama3.apply_chat_template and llama3.system_prompt == "You are a helpful assistant."
    assert llama3.chat("Q", "A")[0] == {"role": "system", "content": "You are a helpful assistant."}
    assert {"chat", "smollm2", "plain", "phi", "llama2", "llama3"} <= set(PROMPTS.names())
    with pytest.raises(ValueError, match="valid prompt template names"):
        PROMPTS.get("llama9")
    with pytest.raises(ValueError, match="chat template"):
        PROMPTS.get("chat").wrap("Q")


def test_prompt_tokens_masked_answer_and_eos_scored(tokenizer, plain):
    question, answer = "Where was Kai Novak born?", "Kai Novak was born in Lagos, Nigeria."
    enc = encode_pair(tokenizer, plain, question, answer)
    prompt = tokenizer(plain.wrap(question))["input_ids"]
    answer_ids = tokenizer(answer)["input_ids"]
    assert list(enc.input_ids) == prompt + answer_ids + [tokenizer.eos_token_id]
    assert list(enc.labels) == [IGNORE_INDEX] * len(prompt) + answer_ids + [tokenizer.eos_token_id]
    assert enc.prompt_len == len(prompt) and enc.n_answer_tokens == len(answer_ids) + 1
    assert tokenizer.decode([t for t in enc.labels if t != IGNORE_INDEX], skip_special_tokens=True) == answer
    gen = encode_prompt(tokenizer, plain, question)
    assert list(gen.input_ids) == prompt and gen.labels == ()


def test_chat_template_path(tokenizer):
    tokenizer = tokenizer.__class__(tokenizer_object=tokenizer.backend_tokenizer, eos_token="<|endoftext|>",
                                    pad_token="<|pad|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tpl = PromptTemplate(apply_chat_template=True, system_prompt="Be brief.")
    enc = encode_pair(tokenizer, tpl, "Who?", "Me.")
    text = tokenizer.decode(list(enc.input_ids))
    assert text.startswith("<|pad|>system\nBe brief.<|endoftext|>\n<|pad|>user\nWho?")
    assert enc.input_ids[-1] == tokenizer.eos_token_id  # EOS appended after the template's trailing newline
    scored = tokenizer.decode([t for t in enc.labels if t != IGNORE_INDEX])
    assert scored == "Me.<|endoftext|>\n<|endoftext|>"
    assert list(encode_prompt(tokenizer, tpl, "Who?").input_ids) == list(enc.input_ids[: enc.prompt_len])


def test_length_limit_error_and_truncation(tokenizer, plain):
    answer = "A very long answer indeed. " * 20
    with pytest.raises(ValueError, match="more than max_length=40"):
        encode_pair(tokenizer, plain, "Who?", answer, max_length=40)
    enc = encode_pair(tokenizer, plain, "Who?", answer, max_length=40, overflow="truncate")
    assert len(enc.input_ids) == 40 and enc.input_ids[-1] == tokenizer.eos_token_id
    with pytest.raises(ValueError, match="no answer token left"):
        encode_pair(tokenizer, plain, "Who " * 30 + "?", "Me.", max_length=12, overflow="truncate")
    with pytest.raises(ValueError, match="overflow must be"):
        encode_pair(tokenizer, plain, "Who?", "Me.", overflow="drop")


def test_collate_pads_left_and_right(tokenizer, plain):
    short = encode_pair(tokenizer, plain, "Who?", "Me.")
    long = encode_pair(tokenizer, plain, "Who is the author of the book?", "It is Kai Novak.")
    pad = tokenizer.pad_token_id
    right = collate([short, long], pad_token_id=pad)
    n = len(short.input_ids)
    assert right["input_ids"].shape == (2, len(long.input_ids))
    assert right["input_ids"][0, :n].tolist() == list(short.input_ids)
    assert (right["input_ids"][0, n:] == pad).all() and (right["labels"][0, n:] == IGNORE_INDEX).all()
    assert right["attention_mask"][0].tolist() == [1] * n + [0] * (len(long.input_ids) - n)
    left = collate([short, long], pad_token_id=pad, padding_side="left")
    assert left["input_ids"][0, -n:].tolist() == list(short.input_ids)
    assert left["attention_mask"][0, : len(long.input_ids) - n].sum() == 0
    # the attention mask comes from lengths, so a real EOS is never masked even when pad == eos
    eos_pad = collate([short, long], pad_token_id=tokenizer.eos_token_id)
    assert eos_pad["attention_mask"][0, n - 1] == 1 and eos_pad["labels"].dtype == torch.long
    with pytest.raises(ValueError, match="pad_token_id is None"):
        collate([short], pad_token_id=None)
