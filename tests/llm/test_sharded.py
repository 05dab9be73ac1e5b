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
# per-shard partial sums. Measured after 4 steps: 2.8e-16 (GradDiff) and 7.3e-14 (OFMU, whose finite differences
# divide round-off by h). The bounds are the replicated mode's (tests/llm/test_distributed.py: differences of
# the same origin, ~500x margin); a real mismatch is far above them (a gradient reduced twice, or per-rank
# token means, moves θ by ~1e-3 there).
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


def _vectors():
    """Two vectors whose first tensor has an odd first dimension: the shards on two ranks are uneven."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(101, 3), (5,)]
    return [tuple(torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes) for _ in range(2)]


def _backend_on_shards(rank: int, size: int, out: str) -> None:
    """vdot, norm and isfinite of the torch backend on DTensor shards, saved for the main process to check."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    from ofmu_theory.backends.torch_backend import TORCH

    mesh = init_device_mesh("cpu", (size,))
    a, b = (tuple(distribute_tensor(t, mesh, [Shard(0)]) for t in v) for v in _vectors())
    found = [float(TORCH.vdot(a, b)), float(TORCH.norm(a)), TORCH.isfinite(a)]
    if rank == 1:  # a NaN in one rank's shard only: every rank must see the vector as non-finite
        a[0].to_local()[0, 0] = float("nan")
    found.append(TORCH.isfinite(a))
    np.save(f"{out}-backend-{rank}.npy", np.array(found, dtype=np.float64))


def _worker(rank: int, size: int, port: int, out: str) -> None:
    """The backend's reductions on shards, then GradDiff and OFMU (fd) sharded."""
    with gloo_group(rank, size, port):
        _backend_on_shards(rank, size, out)
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
        _values_follow_theta(rank, out, setup, sharded)


def _values_follow_theta(rank: int, out: str, setup, settings) -> None:
    """value() at θ₁, then θ₀, then value_and_grad() at both: FSDP keeps the root's gathered weights after a
    forward pass without backward, and a value taken from those would be the previous point's."""
    from llm import objectives
    from llm.unlearn import build_task
    from ofmu_theory.backends.torch_backend import TORCH

    tokenizer, model, forget, retain = setup
    task = build_task(_method("grad_diff", 1), model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"),
                      forget_items=forget, retain_items=retain, settings=settings)
    loss = objectives.nll(task.params, task.forget)
    batch = np.array([rank])
    theta0 = task.params.vector()
    theta1 = TORCH.axpy(-1.0, loss.value_and_grad(theta0, batch)[1], theta0)
    found = [float(loss.value(theta1, batch)), float(loss.value(theta0, batch)),
             float(loss.value_and_grad(theta1, batch)[0]), float(loss.value_and_grad(theta0, batch)[0])]
    np.save(f"{out}-values-{rank}.npy", np.array(found))


def _resume_worker(rank: int, size: int, port: int, out: str) -> None:
    """GradDiff sharded, stopped right after its first checkpoint, then resumed on the same two ranks."""
    import torch.distributed as dist

    with gloo_group(rank, size, port):
        setup = _setup()
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


OTHER_METHODS = ("grad_ascent", "npo", "simnpo", "idkdpo", "rmu", "blur")


def _other_method(name: str, scale: int):
    return METHODS.get(name).preset("embedded", epochs=1.0, batch_size=BATCH * scale,
                                    retain_batch_size=RETAIN_BATCH * scale)


def _methods_worker(rank: int, size: int, port: int, out: str) -> None:
    """Every other first-order method sharded (reference models sharded too; RMU trains a subset)."""
    with gloo_group(rank, size, port):
        tokenizer, model, forget, retain = _setup()
        for name in OTHER_METHODS:
            done = unlearn(_other_method(name, 1), model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"),
                           forget_items=forget, retain_items=retain, settings=RunSettings(max_length=128, shard="fsdp"))
            if rank == 0:
                _save(done, f"{out}-{name}.safetensors")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("fsdp") / "run")
    spawn_ranks(_worker, WORLD, out)
    return out


@pytest.fixture(scope="module")
def resumed_ranks(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("fsdp-resume") / "run")
    spawn_ranks(_resume_worker, WORLD, out)
    return out


@pytest.fixture(scope="module")
def single() -> dict:
    """The unsharded single-process runs on the combined batch (per-rank batch × 2)."""
    return {name: _run(name, WORLD, _setup()) for name in METHODS_UNDER_TEST}


def _worst(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    scale = max(float(p.abs().max()) for p in want.values())
    assert set(got) == set(want)
    return max(float((got[k] - want[k]).abs().max()) for k in want) / scale


def test_backend_reductions_on_uneven_shards_equal_the_whole_vectors(ranks):
    a, b = _vectors()
    want = [sum(float((x * y).sum()) for x, y in zip(a, b)), float(torch.sqrt(sum((x * x).sum() for x in a))), 1.0, 0.0]
    for rank in range(WORLD):
        np.testing.assert_allclose(np.load(f"{ranks}-backend-{rank}.npy"), want, rtol=1e-14, atol=0)


def test_sharded_values_follow_theta(ranks):
    for rank in range(WORLD):
        at1, at0, grad_at1, grad_at0 = np.load(f"{ranks}-values-{rank}.npy")
        assert abs(at1 - at0) > 1e-6 * abs(at0), "θ₁ is a full gradient step from θ₀: the losses must differ"
        np.testing.assert_allclose([at1, at0], [grad_at1, grad_at0], rtol=1e-12)


@pytest.mark.parametrize("name", list(METHODS_UNDER_TEST))
def test_sharded_two_ranks_match_one_unsharded_process(ranks, single, name):
    done = single[name]
    expected = {n: p.detach() for n, p in done.model.named_parameters()}
    start = dict(_setup()[1].named_parameters())
    assert any(not torch.equal(expected[n], start[n]) for n in expected), "the runs should have moved θ"
    worst = _worst(load_file(f"{ranks}-{name}.safetensors"), expected)
    assert worst <= TOLERANCE[name], f"{name}: max |θ_sharded − θ_single| / max|θ| = {worst:.3g}"
    np.testing.assert_allclose(np.load(f"{ranks}-{name}-loss_f.npy"), done.result.trace["loss_f"], rtol=1e-10)


@pytest.mark.slow  # a second spawn of two ranks (~40 s on two loaded cores)
def test_sharded_checkpoint_resumes_on_two_ranks_and_on_one_process(resumed_ranks, single, tmp_path):
    ranks = resumed_ranks
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


@pytest.mark.slow  # a third spawn of two ranks, six methods
def test_every_other_first_order_method_runs_sharded_and_matches_one_process(tmp_path):
    out = str(tmp_path / "run")
    spawn_ranks(_methods_worker, WORLD, out)
    tokenizer, model, forget, retain = _setup()
    for name in OTHER_METHODS:
        single = unlearn(_other_method(name, WORLD), model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"),
                         forget_items=forget, retain_items=retain, settings=RunSettings(max_length=128))
        want = {n: p.detach() for n, p in single.model.named_parameters()}
        assert any(not torch.equal(want[n], p) for n, p in model.named_parameters()), f"{name} did not move θ"
        worst = _worst(load_file(f"{out}-{name}.safetensors"), want)
        assert worst <= 1e-10, f"{name}: max |θ_sharded − θ_single| / max|θ| = {worst:.3g}"


def test_sharding_refuses_exact_hvps_and_lora_in_one_line():
    from llm.sharding import check_sharding

    exact = METHODS.get("ofmu").preset("embedded", hvp="exact")
    with pytest.raises(ValueError, match=r"^OFMU hvp='exact' cannot run with --shard fsdp .*--set hvp=fd$"):
        check_sharding("fsdp", lora=False, double_backward=exact.needs_double_backward(),
                       reason=exact.double_backward_reason())
    with pytest.raises(ValueError, match=r"^--lora with --shard fsdp is not supported"):
        check_sharding("fsdp", lora=True, double_backward=False)
    with pytest.raises(ValueError, match="launch with torchrun"):
        check_sharding("fsdp", lora=False, double_backward=False)
    with pytest.raises(ValueError, match="shard must be None or one of"):
        RunSettings(shard="ddp")
    assert "shard" not in RunSettings().to_dict() and RunSettings(shard="fsdp").to_dict()["shard"] == "fsdp"
