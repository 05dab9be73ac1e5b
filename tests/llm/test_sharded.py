"""Sharded LLM unlearning (FSDP2, 2 gloo ranks on CPU) equals one unsharded process on the combined batch.

One spawn of two ranks runs GradDiff and OFMU (fd) with ``RunSettings(shard="fsdp")`` on the tiny GPT-2
(float64), and a GradDiff run interrupted after its first sharded checkpoint, resumed on the two ranks. The
main process runs the same methods unsharded with the combined batch, and resumes the sharded checkpoint in
one process without torch.distributed (DCP gathers the shards).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import llm.runner
from llm.checkpoint import load_checkpoint
from llm.data import generate_corpus
from llm.methods import METHODS
from llm.models import corpus_texts, train_tokenizer
from llm.prompts import PROMPTS
from llm.unlearn import RunSettings, unlearn
from tests.llm.conftest import tiny_gpt2
from tests.support import gloo_group, spawn_ranks

BATCH, RETAIN_BATCH, WORLD = 1, 3, 2  # per rank; forget10 of the test corpus has 4 rows, retain90 36
METHODS_UNDER_TEST = {"grad_diff": {}, "ofmu_fd": {"hvp": "fd", "inner_steps": 1}}
# max|θ_sharded − θ_single| / max|θ| (float64). Same maths, another summation order: FSDP reduce-scatters the
# per-rank gradients (the replicated mode all-reduces them) and the backend's norms and dot products add
# per-shard partial sums. Measured: see the report of the test run (assert messages print the value); the
# bounds are those of the replicated mode's test (tests/llm/test_distributed.py), whose differences have the
# same origin.
TOLERANCE = {"grad_diff": 1e-13, "ofmu_fd": 1e-10}


class _Interrupt(Exception):
    pass


def _setup():
    corpus = generate_corpus(n_authors=10, questions_per_author=4, seed=3)
    items = [it for name in ("full", "holdout10", "real_authors_perturbed", "world_facts_perturbed")
             for it in corpus.split(name)]
    tokenizer = train_tokenizer(corpus_texts(items), vocab_size=400, model_max_length=128)
    model = tiny_gpt2(tokenizer, seed=4).double()
    return tokenizer, model, list(corpus.split("forget10")), list(corpus.split("retain90"))


def _method(name: str, scale: int):
    base = "ofmu" if name.startswith("ofmu") else name
    return METHODS.get(base).preset("embedded", epochs=2.0, batch_size=BATCH * scale,
                                    retain_batch_size=RETAIN_BATCH * scale, **METHODS_UNDER_TEST[name])


def _run(name: str, scale: int, setup, **kwargs):
    tokenizer, model, forget, retain = setup
    settings = kwargs.pop("settings", RunSettings(max_length=128))
    return unlearn(_method(name, scale), model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"),
                   forget_items=forget, retain_items=retain, settings=settings, **kwargs)


def _save(done, path: str) -> None:
    save_file({n: p.detach().contiguous() for n, p in done.model.named_parameters()}, path)


def _worker(rank: int, size: int, port: int, out: str) -> None:
    import torch.distributed as dist

    with gloo_group(rank, size, port):
        setup = _setup()
        sharded = RunSettings(max_length=128, shard="fsdp")
        for name in METHODS_UNDER_TEST:
            done = _run(name, 1, setup, settings=sharded)
            record = done.record()
            assert record["distributed"]["shard"] == "fsdp" and record["runtime"]["shard"]["blocks"] == 2
            if rank == 0:  # rank 0 holds the gathered, ordinary model
                assert not any(type(p).__name__ == "DTensor" for p in done.model.parameters())
                _save(done, f"{out}-{name}.safetensors")
                np.save(f"{out}-{name}-loss_f.npy", done.result.trace["loss_f"])
        # a run stopped right after its first checkpoint (step 2 of 4), then resumed on the same two ranks
        settings = RunSettings(max_length=128, shard="fsdp", checkpoint_every=2)
        real_save = llm.runner.save_checkpoint

        def save_then_stop(*args, **kwargs):
            real_save(*args, **kwargs)
            raise _Interrupt

        llm.runner.save_checkpoint = save_then_stop
        try:
            _run("grad_diff", 1, setup, settings=settings, checkpoint_dir=f"{out}-ckpt")
        except _Interrupt:
            pass
        finally:
            llm.runner.save_checkpoint = real_save
        if rank == 0:  # kept for the one-process resume (resuming here writes the step-4 checkpoint over it)
            shutil.copytree(f"{out}-ckpt", f"{out}-ckpt-copy")
        dist.barrier()
        resumed = _run("grad_diff", 1, setup, settings=settings, checkpoint_dir=f"{out}-ckpt", resume=True)
        assert resumed.result.nit == 4 and resumed.result.trace.n_rows == 4
        if rank == 0:
            _save(resumed, f"{out}-resumed.safetensors")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("fsdp") / "run")
    spawn_ranks(_worker, WORLD, out)
    return out


@pytest.fixture(scope="module")
def single() -> dict:
    """The unsharded single-process runs on the combined batch (per-rank batch × 2)."""
    return {name: _run(name, WORLD, _setup()) for name in METHODS_UNDER_TEST}


def _worst(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    scale = max(float(p.abs().max()) for p in want.values())
    assert set(got) == set(want)
    return max(float((got[k] - want[k]).abs().max()) for k in want) / scale


@pytest.mark.parametrize("name", list(METHODS_UNDER_TEST))
def test_sharded_two_ranks_match_one_unsharded_process(ranks, single, name):
    done = single[name]
    expected = {n: p.detach() for n, p in done.model.named_parameters()}
    start = dict(_setup()[1].named_parameters())
    assert any(not torch.equal(expected[n], start[n]) for n in expected), "the runs should have moved θ"
    worst = _worst(load_file(f"{ranks}-{name}.safetensors"), expected)
    assert worst <= TOLERANCE[name], f"{name}: max |θ_sharded − θ_single| / max|θ| = {worst:.3g}"
    np.testing.assert_allclose(np.load(f"{ranks}-{name}-loss_f.npy"), done.result.trace["loss_f"], rtol=1e-10)


def test_sharded_checkpoint_resumes_on_two_ranks_and_on_one_process(ranks, single, tmp_path):
    want = {n: p.detach() for n, p in single["grad_diff"].model.named_parameters()}
    two = load_file(f"{ranks}-resumed.safetensors")
    assert _worst(two, want) <= TOLERANCE["grad_diff"]
    saved = load_checkpoint(f"{ranks}-ckpt-copy")  # no process group here: DCP reads the shards whole
    assert saved.state.k == 2 and saved.meta["method"]["batch_size"] == BATCH * WORLD
    assert not any(type(t).__name__ == "DTensor" for t in saved.state.theta)
    shutil.copytree(f"{ranks}-ckpt-copy", tmp_path / "ckpt")
    one = _run("grad_diff", WORLD, _setup(), settings=RunSettings(max_length=128, checkpoint_every=2),
               checkpoint_dir=tmp_path / "ckpt", resume=True)
    assert one.result.nit == 4
    got = {n: p.detach() for n, p in one.model.named_parameters()}
    assert _worst(got, want) <= TOLERANCE["grad_diff"]
    assert _worst(got, two) <= TOLERANCE["grad_diff"]


def test_sharding_refuses_exact_hvps_and_lora_in_one_line():
    from llm.lora import LoraOptions
    from llm.sharding import check_sharding

    with pytest.raises(ValueError, match=r"^--shard fsdp needs first-order oracles .*hvp=fd$"):
        check_sharding("fsdp", lora=False, double_backward=True)
    with pytest.raises(ValueError, match=r"^--lora with --shard fsdp is not supported"):
        check_sharding("fsdp", lora=LoraOptions() is not None, double_backward=False)
    with pytest.raises(ValueError, match="launch with torchrun"):
        check_sharding("fsdp", lora=False, double_backward=False)
    with pytest.raises(ValueError, match="shard must be None or one of"):
        RunSettings(shard="ddp")
    assert "shard" not in RunSettings().to_dict() and RunSettings(shard="fsdp").to_dict()["shard"] == "fsdp"
