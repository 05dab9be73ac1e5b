"""Data parallel LLM unlearning (2 processes, gloo on CPU) equals one process on the combined batch.

Each rank runs :func:`llm.unlearn.unlearn` on the tiny GPT-2 with per-rank batch b; the reference is one
process with batch 2b (``MiniBatch`` makes the union of the ranks' rows exactly that process's rows).
"""

from __future__ import annotations


import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from llm.data import generate_corpus
from llm.methods import METHODS
from llm.models import corpus_texts, train_tokenizer
from llm.prompts import PROMPTS
from llm.unlearn import RunSettings, build_task, unlearn
from tests.llm.conftest import tiny_gpt2
from tests.support import gloo_group, spawn_ranks

BATCH, RETAIN_BATCH, WORLD = 1, 3, 2  # per rank; forget10 of the test corpus has 4 rows, retain90 36
METHODS_UNDER_TEST = {
    "grad_diff": {},
    "ofmu_fd": {"hvp": "fd", "inner_steps": 1},  # embedded preset: β = 0.1, −L_NPO forget loss, central differences
}


def _setup():
    corpus = generate_corpus(n_authors=10, questions_per_author=4, seed=3)
    items = [it for name in ("full", "holdout10", "real_authors_perturbed", "world_facts_perturbed")
             for it in corpus.split(name)]
    tokenizer = train_tokenizer(corpus_texts(items), vocab_size=400, model_max_length=128)
    # float64: the single-process and data-parallel runs differ only in summation order (see the tolerances)
    model = tiny_gpt2(tokenizer, seed=4).double()
    return tokenizer, model, list(corpus.split("forget10")), list(corpus.split("retain90"))


def _method(name: str, scale: int):
    extra = dict(METHODS_UNDER_TEST[name])
    base = "ofmu" if name.startswith("ofmu") else name
    return METHODS.get(base).preset("embedded", epochs=2.0, batch_size=BATCH * scale,
                                    retain_batch_size=RETAIN_BATCH * scale, **extra)


def _run(name: str, scale: int, setup):
    tokenizer, model, forget, retain = setup
    return unlearn(_method(name, scale), model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"),
                   forget_items=forget, retain_items=retain, settings=RunSettings(max_length=128))


def _draws(name: str, scale: int, setup) -> list[tuple[np.ndarray, np.ndarray]]:
    """(forget rows, retain rows) of every draw the run makes, from the sampler this rank builds."""
    tokenizer, model, forget, retain = setup
    method = _method(name, scale)
    task = build_task(method, model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"), forget_items=forget,
                      retain_items=retain, settings=RunSettings(max_length=128))
    plan = method.plan(task)
    per_step = 1 + getattr(plan.solver, "inner_steps", 0)
    return [tuple(plan.sampler.draw(i)) for i in range(plan.solver.max_steps * per_step)]


def _worker(rank: int, size: int, port: int, out: str) -> None:
    with gloo_group(rank, size, port):
        setup = _setup()
        for name in METHODS_UNDER_TEST:
            done = _run(name, 1, setup)
            save_file({n: p.detach().contiguous() for n, p in done.model.named_parameters()},
                      f"{out}-{name}-{rank}.safetensors")
            np.save(f"{out}-{name}-{rank}-loss_f.npy", done.result.trace["loss_f"])
            record = done.record()
            assert record["world_size"] == size and record["distributed"]["backend"] == "gloo"
            assert record["effective_batch_size"] == BATCH * size
            assert record["distributed"]["effective_retain_batch_size"] == RETAIN_BATCH * size
        draws = _draws("ofmu_fd", 1, setup)
        np.save(f"{out}-draws-{rank}.npy", np.array([np.concatenate(d) for d in draws]))


# Tolerances on max|θ_ddp − θ_single| / max|θ| (float64 model). The two computations are the same maths and
# differ only in summation order: the all-reduce adds per-rank partial sums (token-NLL sums, gradients) where
# one process sums once, and the padded lengths — so the matrix shapes and BLAS blocking — differ. GradDiff
# then agrees to round-off (measured 2e-16 after 4 steps). OFMU's finite differences divide those ~1e-16
# differences by h (and nest a second difference inside ∇Φ for the β > 0 term, fd_eps = 1e-5), and AdamW
# rescales each coordinate by its own gradient size, so the weights agree to ~1e-13 after 4 outer steps
# (measured 1.1e-13). Each bound leaves a ~500–1000× margin for other BLAS builds and thread counts; a real
# mismatch is far above them: averaging per-rank token means instead of the global token mean
# (llm.objectives.token_mean) moved θ by 7e-4 (GradDiff) and 3e-3 (OFMU) here.
TOLERANCE = {"grad_diff": 1e-13, "ofmu_fd": 1e-10}


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("ddp") / "run")
    spawn_ranks(_worker, WORLD, out)
    return out


@pytest.mark.parametrize("name", list(METHODS_UNDER_TEST))
def test_two_ranks_match_one_process_on_the_combined_batch(ranks, name):
    single = _run(name, WORLD, _setup())
    assert single.world_size == 1 and single.effective_batch_size == BATCH * WORLD
    expected = {n: p.detach() for n, p in single.model.named_parameters()}
    rank0, rank1 = (load_file(f"{ranks}-{name}-{r}.safetensors") for r in range(WORLD))
    scale = max(float(p.abs().max()) for p in expected.values())
    worst = 0.0
    for key, want in expected.items():
        assert torch.equal(rank0[key], rank1[key]), f"{name}: ranks disagree on {key}"
        worst = max(worst, float((rank0[key] - want).abs().max()) / scale)
    assert worst <= TOLERANCE[name], f"{name}: max |θ_ddp − θ_single| / max|θ| = {worst:.3g}"
    start = dict(_setup()[1].named_parameters())
    assert any(not torch.equal(expected[n], start[n]) for n in expected), "the runs should have moved θ"
    # the losses the core saw are the global-batch losses: the same forget-loss trace on both sides
    np.testing.assert_allclose(np.load(f"{ranks}-{name}-0-loss_f.npy"), single.result.trace["loss_f"], rtol=1e-10)


def test_ranks_draw_disjoint_retain_rows_whose_union_is_the_single_batch(ranks):
    """OpenUnlearning issue 139 was every rank drawing the same retain sample: here each rank has its own."""
    rank0, rank1 = (np.load(f"{ranks}-draws-{r}.npy") for r in range(WORLD))
    single = np.array([np.concatenate(d) for d in _draws("ofmu_fd", WORLD, _setup())])
    assert rank0.shape[0] == single.shape[0] == 8  # 4 outer steps × (T + 1) draws
    for step, (a, b, both) in enumerate(zip(rank0, rank1, single)):
        f0, r0, f1, r1 = a[:BATCH], a[BATCH:], b[:BATCH], b[BATCH:]
        assert not set(r0) & set(r1), f"draw {step}: ranks share retain rows {set(r0) & set(r1)}"
        assert not set(f0) & set(f1), f"draw {step}: ranks share forget rows"
        assert len(r0) == RETAIN_BATCH and len(set(r0)) == RETAIN_BATCH
        # the union, rank 0's shard first, is one process's batch of world × batch rows
        np.testing.assert_array_equal(np.concatenate([f0, f1]), both[: BATCH * WORLD])
        np.testing.assert_array_equal(np.concatenate([r0, r1]), both[BATCH * WORLD:])
