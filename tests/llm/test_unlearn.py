"""Running a method: checkpoints and exact resume, divergence (nothing written), the utility floor, saving."""

from __future__ import annotations

import json

import pytest
import torch

import llm.runner
from llm.checkpoint import has_checkpoint, load_checkpoint
from llm.methods import METHODS
from llm.models import load_pretrained
from llm.prompts import PROMPTS
from llm.unlearn import RunSettings, save_unlearned, unlearn
from tests.llm.conftest import tiny_gpt2


@pytest.fixture(scope="module")
def gpt(tokenizer):
    return tiny_gpt2(tokenizer, seed=5)


@pytest.fixture(scope="module")
def data(corpus):
    return list(corpus.split("forget10")), list(corpus.split("retain90"))


def _ofmu(**extra):
    # 4 forget rows, batch 2: 2 steps per epoch; 3 epochs = 6 outer steps; β > 0 so the state holds both Adams
    return METHODS.get("ofmu").preset("embedded", epochs=3.0, batch_size=2, inner_steps=1, beta=0.1, rho=2.0,
                                      gamma=1.5, **extra)


def _run(method, gpt, tokenizer, data, **kwargs):
    forget, retain = data
    settings = kwargs.pop("settings", RunSettings(max_length=128))
    return unlearn(method, model=gpt, tokenizer=tokenizer, template=PROMPTS.get("plain"), forget_items=forget,
                   retain_items=retain, settings=settings, **kwargs)


class _Interrupt(Exception):
    pass


def test_resume_gives_the_same_weights(gpt, tokenizer, data, tmp_path, monkeypatch):
    method = _ofmu()
    settings = RunSettings(max_length=128, checkpoint_every=2)
    straight = _run(method, gpt, tokenizer, data, settings=settings, checkpoint_dir=tmp_path / "a")
    assert straight.result.nit == 6

    real_save, calls = llm.runner.save_checkpoint, []

    def save_then_stop(*args, **kwargs):
        real_save(*args, **kwargs)
        calls.append(kwargs["state"].k)
        if len(calls) == 2:
            raise _Interrupt  # the process dies right after the checkpoint of step 4

    monkeypatch.setattr(llm.runner, "save_checkpoint", save_then_stop)
    with pytest.raises(_Interrupt):
        _run(method, gpt, tokenizer, data, settings=settings, checkpoint_dir=tmp_path / "b")
    monkeypatch.setattr(llm.runner, "save_checkpoint", real_save)
    assert calls == [2, 4] and has_checkpoint(tmp_path / "b")
    saved = load_checkpoint(tmp_path / "b")
    assert saved.state.k == 4 and saved.state.draws == 4 * 2  # T + 1 = 2 draws per outer step
    assert saved.trace.n_rows == 4 and saved.meta["method"]["method"] == "ofmu"

    resumed = _run(method, gpt, tokenizer, data, settings=settings, checkpoint_dir=tmp_path / "b", resume=True)
    assert resumed.result.nit == 6 and resumed.result.trace.n_rows == 6
    for (name, p), q in zip(straight.model.named_parameters(), resumed.model.parameters()):
        assert torch.equal(p, q), f"{name} differs after resuming"
    for column in ("loss_f", "loss_r", "F", "rho"):
        assert straight.result.trace[column].tolist() == resumed.result.trace[column].tolist()
    assert resumed.result.n_grad == straight.result.n_grad

    with pytest.raises(ValueError, match=r"other settings \(method.lr: checkpoint 0.001, now 0.0005\)"):
        _run(_ofmu(lr=5e-4), gpt, tokenizer, data, settings=settings, checkpoint_dir=tmp_path / "b", resume=True)
    with pytest.raises(ValueError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing")


def test_divergence_is_reported_and_nothing_is_saved(gpt, tokenizer, data, tmp_path):
    method = METHODS.get("grad_ascent").preset("embedded", lr=1e30, epochs=2.0, batch_size=2, warmup_epochs=0.0)
    done = _run(method, gpt, tokenizer, data)
    assert done.diverged and done.status == "DIVERGED"
    for p in done.model.parameters():
        assert torch.isfinite(p).all()  # the last finite iterate
    with pytest.raises(ValueError, match="diverged"):
        save_unlearned(done, tmp_path / "out", tokenizer=tokenizer)
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())


def test_utility_floor_stops_and_keeps_the_last_good_iterate(gpt, tokenizer, data):
    from llm.objectives import encode_rows
    from ofmu_theory.modules import ModuleParams

    _, retain = data
    probe = encode_rows(tokenizer, PROMPTS.get("plain"), [(i.question, i.answer) for i in retain[:4]], name="probe",
                        max_length=128)
    params = ModuleParams.of(gpt)
    start = llm.runner.UtilityFloor(params=params, probe=probe, max_retain_nll=1.0).measure(params.vector())
    cap = start + 0.05  # a little above θ_0's probe NLL: gradient ascent crosses it within a few steps
    method = METHODS.get("grad_ascent").preset("embedded", lr=3e-2, epochs=5.0, batch_size=2, warmup_epochs=0.0)
    settings = RunSettings(max_length=128, max_retain_nll=cap, floor_every=1, floor_probe=4)
    done = _run(method, gpt, tokenizer, data, settings=settings)
    assert done.status == "STOPPED" and done.floor["tripped"] and done.result.nit < 10
    history = done.floor["history"]
    assert history[-1][1] > cap and all(v <= cap for _, v in history[:-1])
    kept = llm.runner.UtilityFloor(params=ModuleParams.of(done.model), probe=probe, max_retain_nll=1.0)
    # the returned model is the last iterate that passed (θ_0 when the first check failed)
    expected = history[-2][1] if len(history) > 1 else start
    assert kept.measure(ModuleParams.of(done.model).vector()) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="max_retain_nll must be"):
        llm.runner.UtilityFloor(params=params, probe=probe, max_retain_nll=-1.0)


def test_save_writes_safetensors_and_metadata(gpt, tokenizer, data, tmp_path):
    method = METHODS.get("npo").preset("embedded", epochs=1.0, batch_size=2)
    done = _run(method, gpt, tokenizer, data, settings=RunSettings(max_length=128, seed=3))
    out = save_unlearned(done, tmp_path / "npo", tokenizer=tokenizer)
    files = {p.name for p in (out / "model").iterdir()}
    assert "model.safetensors" in files and not any(f.endswith((".bin", ".pt")) for f in files)
    record = json.loads((out / "result.json").read_text())
    assert record["status"] == "MAX_STEPS" and record["config"]["method"] == "npo"
    assert record["effective_batch_size"] == 2 and record["world_size"] == 1
    assert record["metadata"]["seed"] == 3 and "torch" in record["metadata"]["versions"]
    assert record["reference_model"] == "frozen copy of the starting model"
    assert len(record["core"]["trace"]["loss_f"]) == 2
    loaded, _ = load_pretrained(out / "model", local_files_only=True)
    ids = torch.tensor([tokenizer("Question: Who?\nAnswer:\n")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, done.model(ids).logits)
    # saving again replaces the folder whole
    save_unlearned(done, out, tokenizer=tokenizer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["npo"]
