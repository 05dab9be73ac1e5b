"""Contract test over every registered method (finite run, determinism, presets, config errors) and LoRA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llm.lora import LoraOptions, adapter_names, base_names
from llm.methods import METHODS, PRESETS
from llm.unlearn import RunSettings, build_task, unlearn
from tests.llm.conftest import tiny_gpt2

def _method(name: str, **extra):
    """The method with one epoch, batch 2 and its own ``test_settings`` for the 2-layer model (e.g. RMU's layer)."""
    cls = METHODS.get(name)
    return cls.preset("embedded", epochs=1.0, batch_size=2, **{**cls.test_settings, **extra})


@pytest.fixture(scope="module")
def gpt(tokenizer):
    return tiny_gpt2(tokenizer, seed=2)


@pytest.fixture(scope="module")
def data(corpus):
    return list(corpus.split("forget10")), list(corpus.split("retain90"))


def _run(name, gpt, tokenizer, data, *, settings=RunSettings(max_length=128), **extra):
    forget, retain = data
    from llm.prompts import PROMPTS

    return unlearn(_method(name, **extra), model=gpt, tokenizer=tokenizer, template=PROMPTS.get("plain"),
                   forget_items=forget, retain_items=retain, settings=settings)


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_runs_through_the_core(name, gpt, tokenizer, data):
    before = {n: p.detach().clone() for n, p in gpt.named_parameters()}
    a = _run(name, gpt, tokenizer, data)
    assert a.status == "MAX_STEPS" and a.result.nit == 2  # 4 forget rows, batch 2, one epoch
    assert np.isfinite(a.result.trace["loss_f"]).all()
    assert a.effective_batch_size == 2 and a.world_size == 1
    assert a.result.options["solver"] in ("scalarized", "blur", "ofmu")
    for n, p in gpt.named_parameters():  # the target model is never modified
        assert torch.equal(p, before[n])
    moved = [n for n, p in a.model.named_parameters() if not torch.equal(p, before[n])]
    assert moved, "the unlearned model should differ from the target"
    b = _run(name, gpt, tokenizer, data)
    for (n, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(p, q), f"{name}: {n} differs between two runs with the same seed"


def test_rmu_trains_only_its_projections(gpt, tokenizer, data):
    done = _run("rmu", gpt, tokenizer, data)
    changed = {n for n, p in done.model.named_parameters() if not torch.equal(p, dict(gpt.named_parameters())[n])}
    assert changed and changed <= {f"transformer.h.{i}.mlp.c_proj.weight" for i in (0, 1)}
    assert done.reference == "frozen copy of the starting model"


@pytest.mark.parametrize("name", ["npo", "ofmu"])
def test_lora_changes_adapters_only(name, gpt, tokenizer, data):
    settings = RunSettings(max_length=128, lora=LoraOptions(r=2))
    done = _run(name, gpt, tokenizer, data, settings=settings)
    model = done.model
    assert adapter_names(model)
    base = dict(gpt.named_parameters())
    lora_b = [p for n, p in model.named_parameters() if ".lora_B." in n]
    assert any(float(p.detach().abs().max()) > 0 for p in lora_b), "the adapters should have moved (B starts at 0)"
    for n in base_names(model):
        plain = n.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(dict(model.named_parameters())[n], base[plain]), f"base weight {plain} changed"
    if name == "npo":
        assert done.reference == "base model with LoRA adapters disabled"


def test_presets_and_config_errors():
    for name in METHODS.names():
        cls = METHODS.get(name)
        for preset in PRESETS:
            m = cls.preset(preset)
            assert cls.from_dict(m.to_dict()) == m
    assert METHODS.get("npo")().beta == 0.1 and METHODS.get("simnpo")().gamma == 0.125
    assert METHODS.get("simnpo")().beta == 4.5 and METHODS.get("grad_diff")().lr == 1e-5
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['betta'\] for method 'npo'"):
        METHODS.get("npo").preset("embedded", betta=0.2)
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        METHODS.get("npo")(beta=-1.0)
    with pytest.raises(ValueError, match="retain_loss must be one of"):
        METHODS.get("grad_diff")(retain_loss="mse")
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        METHODS.get("ofmu")(batch_size=0)
    with pytest.raises(ValueError, match="hvp must be one of"):
        METHODS.get("ofmu").preset(hvp="magic")
    with pytest.raises(ValueError, match="preset must be one of"):
        METHODS.get("ofmu").preset("paper")
    with pytest.raises(ValueError, match="valid method names"):
        METHODS.get("graddiff")


def test_grad_diff_kl_retain_and_ofmu_fd(gpt, tokenizer, data):
    kl = _run("grad_diff", gpt, tokenizer, data, retain_loss="kl")
    assert kl.reference == "frozen copy of the starting model"
    assert kl.result.trace["loss_r"][0] == pytest.approx(0.0, abs=1e-6)  # KL(p_ref ‖ p_θ0) = 0
    fd = _run("ofmu", gpt, tokenizer, data, hvp="fd")
    exact = _run("ofmu", gpt, tokenizer, data, hvp="exact")
    assert fd.result.options["hvp_strategy"]["name"] == "fd"
    # same θ̃_0 and batches: F_ρ and ‖∇F_ρ‖ at the first step agree (Adam's later steps amplify round-off
    # in coordinates whose gradient is ~0, so the final weights are not compared)
    for column in ("F", "grad_F_norm", "phi", "grad_phi_norm"):
        assert fd.result.trace[column][0] == pytest.approx(exact.result.trace[column][0], rel=5e-3), column  # float32 FD
    assert fd.result.n_hvp == 0 and exact.result.n_third > 0
    npo_forget = _run("ofmu", gpt, tokenizer, data, forget_loss="npo", beta=0.0)
    assert npo_forget.result.trace["loss_f"][0] < 0  # −L_NPO


def test_bad_input(gpt, tokenizer, data, corpus):
    from llm.prompts import PROMPTS

    forget, retain = data
    m = _method("grad_diff")
    kwargs = dict(model=gpt, tokenizer=tokenizer, template=PROMPTS.get("plain"), settings=RunSettings(max_length=128))
    with pytest.raises(ValueError, match="the forget split is empty"):
        build_task(m, forget_items=[], retain_items=retain, **kwargs)
    with pytest.raises(ValueError, match="retain split is empty"):
        build_task(m, forget_items=forget, retain_items=[], **kwargs)
    with pytest.raises(ValueError, match="appear in both forget and retain"):
        build_task(m, forget_items=forget, retain_items=retain + forget[:1], **kwargs)
    import copy

    nopad = copy.deepcopy(tokenizer)
    nopad.pad_token = None
    with pytest.raises(ValueError, match="no pad token"):
        build_task(m, forget_items=forget, retain_items=retain, **{**kwargs, "tokenizer": nopad})
    with pytest.raises(ValueError, match="max_length"):
        build_task(m, forget_items=forget, retain_items=retain, **{**kwargs, "settings": RunSettings(max_length=8)})
