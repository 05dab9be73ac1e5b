"""How the model runs: gradient checkpointing under functional_call, bf16 autocast, attention, device."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from llm.losses import mean_nll
from llm.methods import METHODS
from llm.prompts import PROMPTS
from llm.runtime import ModelParams, enable_checkpointing, eval_mode, resolve_device
from llm.unlearn import RunSettings, unlearn
from ofmu_theory.objectives import TorchObjective
from tests.llm.conftest import tiny_gpt2


def _gpt(dropout: float = 0.1) -> GPT2LMHeadModel:
    config = GPT2Config(vocab_size=64, n_positions=32, n_embd=16, n_layer=2, n_head=2, resid_pdrop=dropout,
                        embd_pdrop=dropout, attn_pdrop=dropout, bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config).eval()
    model.set_attn_implementation("eager")  # exact HVPs below need double backward
    return model


def _objective(model, *, hf_only: bool = False, autocast_dtype=None):
    """NLL on a fixed batch through functional_call, as llm.objectives runs it."""
    params = ModelParams.of(model, autocast_dtype=autocast_dtype)
    ids = torch.randint(0, 64, (3, 10), generator=torch.Generator().manual_seed(1))
    labels = ids.clone()
    labels[:, :3] = -100

    def fn(theta, batch):
        with eval_mode(model):
            if hf_only:  # Hugging Face's checkpointing as is: the flag it checks, no re-parametrisation
                for layer in model.transformer.h:
                    layer.training = True
            logits = params.forward_with(theta)(input_ids=ids, use_cache=False).logits
        return mean_nll(logits, labels)

    return TorchObjective(fn), params


def _rel(a, b) -> float:
    return max(float((x - y).abs().max() / y.abs().max()) for x, y in zip(a, b))


def test_checkpointing_gives_the_gradients_and_hvps_at_theta_not_at_the_module_weights():
    model = _gpt()
    plain, params = _objective(model)
    theta = tuple(t + 0.05 * torch.randn_like(t) for t in params.vector())  # θ ≠ the module's own tensors
    v = tuple(torch.randn_like(t) for t in theta)
    loss, grad = plain.value_and_grad(theta)
    hvp = plain.hvp(theta, v)  # create_graph: a double backward through the recomputed layers

    ckpt_model = copy.deepcopy(model)
    assert enable_checkpointing(ckpt_model) == 2
    ckpt, _ = _objective(ckpt_model)
    calls = []
    ckpt_model.transformer.h[0].attn.register_forward_hook(lambda *a: calls.append(1))
    loss_c, grad_c = ckpt.value_and_grad(theta)
    assert len(calls) == 2, "the layer should run twice: forward, then recomputed in the backward pass"
    assert float(loss_c) == float(loss)  # eval mode kept: dropout (p = 0.1 here) stays off
    assert _rel(grad_c, grad) < 1e-6 and _rel(ckpt.hvp(theta, v), hvp) < 1e-6

    # Why the re-parametrisation: Hugging Face's checkpointing recomputes with the module's own weights
    # after functional_call has restored them — silently the gradient at θ_0, not at θ.
    hf_model = copy.deepcopy(model)
    enable = getattr(hf_model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:  # transformers < 5.2x
        hf_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    hf, _ = _objective(hf_model, hf_only=True)
    assert _rel(hf.value_and_grad(theta)[1], grad) > 0.1


def test_checkpointing_needs_support():
    class NoCheckpointing(torch.nn.Module):
        supports_gradient_checkpointing = False

    with pytest.raises(ValueError, match="does not support gradient checkpointing"):
        enable_checkpointing(NoCheckpointing())


def test_bf16_autocast_keeps_float32_master_parameters():
    model = _gpt(dropout=0.0)
    plain, params = _objective(model)
    cast, _ = _objective(model, autocast_dtype=torch.bfloat16)
    seen = []
    model.lm_head.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    theta = params.vector()
    loss, grad = cast.value_and_grad(theta)
    assert seen[-1] == torch.bfloat16  # the forward ran in bf16 ...
    assert all(g.dtype == torch.float32 for g in grad) and all(t.dtype == torch.float32 for t in theta)  # ... θ fp32
    loss32, grad32 = plain.value_and_grad(theta)
    # bf16 keeps 8 significant bits (relative rounding 2⁻⁹ ≈ 0.2 % per operation)
    assert float(loss) == pytest.approx(float(loss32), rel=2e-2)
    cosine = sum((a * b).sum() for a, b in zip(grad, grad32)) / (
        sum((a * a).sum() for a in grad).sqrt() * sum((b * b).sum() for b in grad32).sqrt())
    assert float(cosine) > 0.99


@pytest.fixture(scope="module")
def run_data(corpus, tokenizer):
    return tiny_gpt2(tokenizer, seed=6), list(corpus.split("forget10")), list(corpus.split("retain90"))


def _ofmu(run_data, tokenizer, settings, **extra):
    model, forget, retain = run_data
    method = METHODS.get("ofmu").preset("embedded", epochs=1.0, batch_size=2, inner_steps=1, **extra)
    return unlearn(method, model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"), forget_items=forget,
                   retain_items=retain, settings=settings)


def test_ofmu_exact_with_checkpointing_and_lora_matches_without(run_data, tokenizer):
    """Third-order products (β > 0, create_graph) through recomputed layers and LoRA adapters."""
    from llm.lora import LoraOptions

    base = RunSettings(max_length=128, lora=LoraOptions(r=2))
    plain = _ofmu(run_data, tokenizer, base, hvp="exact")
    ckpt = _ofmu(run_data, tokenizer, RunSettings(max_length=128, lora=LoraOptions(r=2), gradient_checkpointing=True),
                 hvp="exact")
    assert ckpt.runtime["checkpointed_layers"] == 2 and ckpt.runtime["attn_implementation"] == "eager"
    assert plain.result.n_third > 0
    for column in ("loss_f", "loss_r", "F", "grad_F_norm"):
        torch.testing.assert_close(torch.as_tensor(ckpt.result.trace[column]),
                                   torch.as_tensor(plain.result.trace[column]), rtol=1e-6, atol=0)


def test_ofmu_fd_runs_in_bf16_with_the_fused_kernel(run_data, tokenizer):
    done = _ofmu(run_data, tokenizer, RunSettings(max_length=128, bf16=True), hvp="fd", fd_eps=1e-4)
    assert done.status == "MAX_STEPS" and done.runtime["attn_implementation"] == "sdpa"
    assert all(torch.isfinite(torch.as_tensor(done.result.trace[c])).all() for c in ("loss_f", "F", "grad_F_norm"))
    assert all(p.dtype == torch.float32 for p in done.model.parameters())
    plain = _ofmu(run_data, tokenizer, RunSettings(max_length=128), hvp="fd", fd_eps=1e-4)
    assert done.result.trace["loss_r"][0] == pytest.approx(plain.result.trace["loss_r"][0], rel=2e-2)


def test_device_and_settings_errors(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu") and resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    monkeypatch.setenv("LOCAL_RANK", "3")
    if torch.cuda.device_count() > 3:
        assert resolve_device("cuda") == torch.device("cuda:3")
    with pytest.raises(ValueError, match="device must be"):
        RunSettings(device="tpu")
    with pytest.raises(ValueError, match="bf16 must be a bool"):
        RunSettings(bf16="yes")
