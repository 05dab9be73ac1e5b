"""Smaller parts: checkpoint serialisation, IdK answers, peak memory, prepare configs and keys, the bench
table and plot, regenerate_docs, the third-order-safe layer norm."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from llm.bench import BenchConfig, markdown_table, plot, summary_row
from llm.checkpoint import load_checkpoint, save_checkpoint
from llm.data.idk import IDK_PATH, assign_idk, load_idk_answers
from llm.higher_order import CompositeLayerNorm, make_third_order_safe
from llm.memory import PeakMemory
from llm.methods import METHODS
from llm.prepare import EvalSettings, PrepareConfig, cache_key
from llm.train import TrainRecipe
from ofmu_theory.result import Trace
from ofmu_theory.solvers.ofmu import OFMUState
from ofmu_theory.transforms import AdamState


def test_checkpoint_round_trip(tmp_path):
    theta = (torch.randn(3, 2), torch.randn(4))
    adam = AdamState(7, tuple(t * 0.5 for t in theta), tuple(t.abs() for t in theta))
    state = OFMUState(theta=theta, k=12, draws=24, inner_state=adam, outer_state=None)
    trace = Trace({"k": np.arange(3.0), "loss_f": np.array([1.0, np.nan, 2.0])})
    save_checkpoint(tmp_path, state=state, trace=trace, counts={"n_grad": 5.0}, meta={"method": {"beta": 0.1}})
    save_checkpoint(tmp_path, state=state._replace(k=13), trace=trace, counts={"n_grad": 6.0}, meta={})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "step-000013"]  # older ones dropped
    loaded = load_checkpoint(tmp_path)
    assert isinstance(loaded.state, OFMUState) and loaded.state.k == 13 and loaded.state.draws == 24
    assert isinstance(loaded.state.inner_state, AdamState) and loaded.state.inner_state.count == 7
    for a, b in zip(loaded.state.inner_state.v, adam.v):
        assert torch.equal(a, b)
    assert loaded.state.outer_state is None and loaded.counts == {"n_grad": 6.0}
    assert np.isnan(loaded.trace["loss_f"][1])
    (tmp_path / "step-000013" / "state.json").write_text(
        (tmp_path / "step-000013" / "state.json").read_text().replace('"ofmu_state"', '"os:system"'))
    with pytest.raises(ValueError, match="unknown state type 'os:system'; a checkpoint may only name"):
        load_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="cannot checkpoint"):
        save_checkpoint(tmp_path, state=OFMUState((object(),), 1, 1, None, None), trace=trace, counts={}, meta={})


def test_idk_answers(tmp_path):
    answers = load_idk_answers()
    assert len(answers) == 40 and len(set(answers)) == 40 and IDK_PATH.name == "idontknow.jsonl"
    assert assign_idk(5, answers, seed=1) == assign_idk(5, answers, seed=1) != assign_idk(5, answers, seed=2)
    mixed = tmp_path / "idk.jsonl"
    mixed.write_text('"Not sure."\n{"answer": "No idea."}\nPlain text line.\n\n')
    assert load_idk_answers(mixed) == ("Not sure.", "No idea.", "Plain text line.")
    (tmp_path / "bad.jsonl").write_text('{"text": 1}\n')
    with pytest.raises(ValueError, match="line 1"):
        load_idk_answers(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match="does not exist"):
        load_idk_answers(tmp_path / "missing.jsonl")


def test_peak_memory_sees_a_large_allocation():
    with PeakMemory("cpu", interval=0.005) as m:
        block = torch.ones(64 * 2**20)  # 256 MiB of float32
        block.add_(1.0)
        import time

        time.sleep(0.05)
        del block
    assert m.peak_mib > 100 and m.method == "rss sampling"


def test_prepare_config_and_cache_key(tmp_path):
    a = PrepareConfig()
    assert a.resolved().recipe == TrainRecipe(epochs=40.0, lr=3e-3, batch_size=32)
    assert a.resolved().world_knowledge is True and a.resolved().template == "plain"
    assert PrepareConfig(model="some/hub-model").resolved().world_knowledge is False
    assert cache_key(a) == cache_key(PrepareConfig()) != cache_key(PrepareConfig(seed=1))
    assert cache_key(a) != cache_key(PrepareConfig(eval=EvalSettings(max_new_tokens=10)))
    with pytest.raises(ValueError, match="forget_split must be one of"):
        PrepareConfig(forget_split="forget50")
    with pytest.raises(ValueError, match="valid embedded model size names"):
        PrepareConfig(size="huge")
    with pytest.raises(ValueError, match="data must be 'generated', 'hub', a TOFU JSON file or a folder"):
        cache_key(PrepareConfig(data=str(tmp_path / "missing")))
    with pytest.raises(ValueError, match="limit must be"):
        EvalSettings(limit=1)


def test_bench_config_table_and_plot(tmp_path):
    assert sorted(BenchConfig().methods) == METHODS.names() and BenchConfig().methods[-1] == "ofmu"  # OFMU last
    config = BenchConfig(methods=("npo", "ofmu"), overrides={"ofmu": {"beta": 0.2}})
    ofmu = config.method("ofmu", embedded=True)
    assert ofmu.solver.beta == 0.2 and ofmu.epochs == 5.0 and ofmu.batch_size == 8 and ofmu.retain_batch_size == 32
    assert config.method("npo", embedded=False).lr == 1e-5  # OpenUnlearning preset for hub models
    with pytest.raises(ValueError, match="not in the bench"):
        BenchConfig(methods=("npo",), overrides={"ofmu": {}})
    rows = [summary_row("target (reference)", "reference", {"forget_quality": 1e-4, "model_utility": 0.9}),
            summary_row("ofmu", "method", {"forget_quality": 0.1, "model_utility": 0.86, "privleak": -5.0},
                        wall_s=12.0, steps=25, status="MAX_STEPS")]
    table = markdown_table(rows)
    assert "| ofmu | 0.1 | 0.860 |" in table and "| target (reference) | 0.0001 |" in table
    plot(rows, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_regenerate_docs_refuses_a_single_pass_report(tmp_path):
    from llm.regenerate_docs import main

    report = {"rows": [], "bench": {"epochs": 5.0}, "wall_s": 3.0}
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "bench.json").write_text(json.dumps(report))
    with pytest.raises(ValueError, match="not a protocol bench"):
        main(["--from", str(tmp_path / "run"), "--out", str(tmp_path / "docs")])


def test_composite_layer_norm_is_third_order_exact():
    from torch.autograd import gradgradcheck

    ln = nn.LayerNorm(4).double()
    with torch.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 4, dtype=torch.float64)
    expected = ln(x)
    model = nn.Sequential(ln)
    assert make_third_order_safe(model) == 1 and type(ln) is CompositeLayerNorm
    torch.testing.assert_close(ln(x), expected)

    def grad_of(inp):
        (g,) = torch.autograd.grad(ln(inp), inp, grad_outputs=y, create_graph=True)
        return g

    assert gradgradcheck(grad_of, (x,), raise_exception=False)  # third derivatives are right
