"""Sampler, transforms, schedules, step rules, constraints, registry and atomic IO."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ofmu_theory import Adam, Armijo, Box, Cosine, Geometric, L1Ball, LinearDecay, MiniBatch, Momentum, Sgd
from ofmu_theory.backends import get_backend
from ofmu_theory.io import atomic_open, write_json
from ofmu_theory.registry import Registry
from ofmu_theory import steps
from ofmu_theory.steps import Line, parse_step_rule
from tests.strategies import seeds


class TestSampler:
    @given(seed=seeds, n=st.integers(5, 60), batch=st.integers(1, 7), world=st.integers(1, 4))
    def test_ranks_are_disjoint_and_union_is_the_combined_batch(self, seed: int, n: int, batch: int, world: int) -> None:
        samplers = [MiniBatch(n_lower=n, n_upper=n, batch_lower=batch, batch_upper=batch, seed=seed, rank=r, world_size=world) for r in range(world)]
        for i in range(3):
            parts = [s.draw(i).upper for s in samplers]
            combined = samplers[0].draw_combined(i).upper
            np.testing.assert_array_equal(np.concatenate(parts), combined)
            if world * batch <= n:  # within one epoch, the ranks never share a row
                pass
        # one epoch of the stream is a permutation of all rows
        single = MiniBatch(n_lower=n, n_upper=n, batch_lower=1, batch_upper=1, seed=seed)
        assert sorted(int(single.draw(i).lower[0]) for i in range(n)) == list(range(n))

    def test_ranks_draw_different_retain_samples(self) -> None:
        """OpenUnlearning issue 139: ranks must not draw the same retain rows."""
        a = MiniBatch(n_lower=40, n_upper=4000, batch_lower=4, batch_upper=8, seed=0, rank=0, world_size=2)
        b = MiniBatch(n_lower=40, n_upper=4000, batch_lower=4, batch_upper=8, seed=0, rank=1, world_size=2)
        for i in range(20):
            assert not set(a.draw(i).upper) & set(b.draw(i).upper)

    def test_steps_per_epoch(self) -> None:
        assert MiniBatch(n_lower=10, n_upper=4, batch_lower=None, batch_upper=2).steps_per_epoch() == 1
        assert MiniBatch(n_lower=10, n_upper=4, batch_lower=3, batch_upper=2).steps_per_epoch() == 4
        assert MiniBatch(n_lower=10, n_upper=4, batch_lower=3, batch_upper=2, rank=1, world_size=2).steps_per_epoch() == 2

    def test_validation(self) -> None:
        with pytest.raises(ValueError, match="rank"):
            MiniBatch(n_lower=4, n_upper=4, batch_lower=1, batch_upper=1, rank=2, world_size=2)
        with pytest.raises(ValueError, match="batch_lower"):
            MiniBatch(n_lower=4, n_upper=4, batch_lower=0, batch_upper=1)
        with pytest.raises(ValueError, match="n_upper"):
            MiniBatch(n_lower=4, n_upper=0, batch_lower=1, batch_upper=1)
        # the smallest valid values on each boundary
        MiniBatch(n_lower=1, n_upper=0, batch_lower=1, batch_upper=None, rank=1, world_size=2)


    def test_the_stream_is_the_seeded_per_epoch_permutations(self) -> None:
        """Draw i of side s (0 forget, 1 retain) reads the concatenation over epochs e of
        default_rng([seed, s, e]).permutation(n): recorded stochastic runs replay only while it stays so."""
        sampler = MiniBatch(n_lower=6, n_upper=6, batch_lower=4, batch_upper=3, seed=3)
        stream = {side: np.concatenate([np.random.default_rng([3, side, e]).permutation(6) for e in range(2)])
                  for side in (0, 1)}
        for i in range(3):
            batches = sampler.draw(i)
            np.testing.assert_array_equal(batches.lower, stream[0][4 * i:4 * i + 4])
            np.testing.assert_array_equal(batches.upper, stream[1][3 * i:3 * i + 3])

class TestTransforms:
    def _run_torch(self, make_opt, steps: int = 5):
        torch.manual_seed(0)
        p = torch.randn(7, dtype=torch.float64, requires_grad=True)
        grads = [torch.randn(7, dtype=torch.float64) for _ in range(steps)]
        start = p.detach().clone()
        opt = make_opt([p])
        for g in grads:
            p.grad = g.clone()
            opt.step()
        return start, grads, p.detach()

    def _run_ours(self, transform, start, grads, lr: float):
        b = get_backend("torch")
        theta = (start.clone(),)
        state = transform.init(b, theta)
        for g in grads:
            u, state = transform.update(b, (g,), state)
            theta = b.axpy(-lr, u, theta)
            if transform.weight_decay:
                theta = b.axpy(-lr * transform.weight_decay, (theta[0] / (1 - lr * transform.weight_decay),), theta)
        return theta[0]

    def test_adam_matches_torch_adam(self) -> None:
        start, grads, expected = self._run_torch(lambda ps: torch.optim.Adam(ps, lr=0.1))
        torch.testing.assert_close(self._run_ours(Adam(), start, grads, 0.1), expected, rtol=1e-12, atol=1e-12)

    def test_adamw_matches_torch_adamw(self) -> None:
        """AdamW decays before the Adam step: θ ← θ(1 − η·wd) − η·u (the solver's move does this)."""
        start, grads, expected = self._run_torch(lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.01))
        b = get_backend("torch")
        t = Adam(weight_decay=0.01)
        theta, state = (start.clone(),), t.init(b, (start,))
        for g in grads:
            u, state = t.update(b, (g,), state)
            theta = b.axpy(-0.1, u, b.axpy(-0.1 * 0.01, theta, theta))
        torch.testing.assert_close(theta[0], expected, rtol=1e-12, atol=1e-12)

    def test_momentum_matches_torch_sgd(self) -> None:
        for nesterov in (False, True):
            start, grads, expected = self._run_torch(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=nesterov))
            torch.testing.assert_close(self._run_ours(Momentum(nesterov=nesterov), start, grads, 0.05), expected, rtol=1e-12, atol=1e-12)

    def test_clipping(self) -> None:
        b = get_backend("numpy")
        u, _ = Sgd(clip_norm=1.0).update(b, np.array([3.0, 4.0]), None)
        np.testing.assert_allclose(u, [0.6, 0.8])
        with pytest.raises(ValueError, match="clip_norm"):
            Sgd(clip_norm=0.0)


class TestSchedulesAndSteps:
    def test_geometric_with_cap(self) -> None:
        s = Geometric(1.0, 10.0, cap=500.0)
        assert [s(k) for k in range(4)] == [1.0, 10.0, 100.0, 500.0]
        assert Geometric(2.0)(50) == 2.0

    def test_linear_and_cosine(self) -> None:
        assert LinearDecay(1.0, 0.0, 4)(2) == 0.5 and LinearDecay(1.0, 0.0, 4)(10) == 0.0
        c = Cosine(1.0, 10)
        assert c(0) == 1.0 and abs(c(10)) < 1e-15 and abs(c(5) - 0.5) < 1e-15
        with pytest.raises(ValueError, match="steps"):
            Cosine(1.0, 0)

    def test_schedule_validation(self) -> None:
        for kwargs in ({"start": -1.0}, {"start": 1.0, "end": -1.0}):
            with pytest.raises(ValueError, match="start and end must be >= 0"):
                LinearDecay(**kwargs)

    def test_a_line_without_k_is_step_zero(self) -> None:
        rule = steps.Scheduled(Cosine(1.0, 4, end=0.5))
        choice = rule(Line(f0=0.0, slope=float("nan"), value_at=lambda eta: 0.0, smoothness=None, what="t"))
        assert choice.eta == 1.0

    def test_warmup_rises_linearly_to_the_start_value(self) -> None:
        for schedule in (LinearDecay(2.0, 0.0, 4, warmup=3), Cosine(2.0, 4, warmup=3)):
            assert [schedule(k) for k in range(4)] == [0.5, 1.0, 1.5, 2.0]

    def test_armijo_accepts_sufficient_decrease(self) -> None:
        f = lambda x: (x - 3.0) ** 2  # noqa: E731
        # at x = 0: f = 9, f' = −6; direction +1, slope −6
        choice = Armijo(eta0=10.0)(Line(f0=9.0, slope=-6.0, value_at=lambda eta: f(eta), smoothness=None, what="t"))
        assert choice.accepted and f(choice.eta) <= 9.0 - 1e-4 * choice.eta * 6.0
        assert choice.eta == 5.0  # 10 fails (f=49), 5 gives f=4 ≤ 9 − 3e-3

    def test_armijo_accepts_a_trial_whose_value_is_exactly_zero(self) -> None:
        # f(η) = (1 − η)², f0 = 1, slope −2: the first trial η = 1 lands on f = 0 ≤ 1 − 2c
        choice = Armijo(eta0=1.0)(Line(f0=1.0, slope=-2.0, value_at=lambda eta: (1.0 - eta) ** 2, smoothness=None,
                                       what="t"))
        assert choice.accepted and choice.eta == 1.0

    def test_an_uncapped_geometric_schedule_never_decreases_past_float_range(self) -> None:
        s = Geometric(1.0, 10.0)
        values = [s(k) for k in (300, 307, 308, 400, 10_000)]
        assert values == sorted(values) and math.isfinite(values[-1]) and values[-1] > 1e300

    def test_linear_decay_reaches_its_end_after_one_step_by_default(self) -> None:
        assert [LinearDecay(2.0)(k) for k in range(3)] == [2.0, 0.0, 0.0]
        assert [LinearDecay(2.0, 1.0)(k) for k in range(2)] == [2.0, 1.0]

    def test_armijo_reports_failure(self) -> None:
        choice = Armijo(max_backtracks=3)(Line(f0=0.0, slope=-1.0, value_at=lambda eta: 1.0, smoothness=None, what="t"))
        assert not choice.accepted

    def test_parse(self) -> None:
        assert parse_step_rule("0.5") == steps.ConstantStep(0.5)
        assert parse_step_rule("armijo:2").eta0 == 2.0
        assert parse_step_rule("1/L*0.5").scale == 0.5
        with pytest.raises(ValueError, match="cannot parse"):
            parse_step_rule("fast")
        for bad in (0.0, -1.0, float("inf"), float("nan")):
            with pytest.raises(ValueError, match="eta must be a finite number > 0"):
                steps.as_step_rule(bad, name="eta")


class TestConstraints:
    @given(seed=seeds, radius=st.floats(0.1, 5.0))
    def test_l1_projection_is_the_argmin(self, seed: int, radius: float) -> None:
        """Π(x) is feasible and ⟨x − Π(x), y − Π(x)⟩ ≤ 0 for feasible y (the projection inequality)."""
        rng = np.random.default_rng(seed)
        x = 3 * rng.standard_normal(6)
        c = L1Ball(radius=radius)
        p = c._project(x, np)
        assert np.abs(p).sum() <= radius * (1 + 1e-12)
        for _ in range(5):
            y = rng.standard_normal(6)
            y = y * min(1.0, radius / np.abs(y).sum())
            assert (x - p) @ (y - p) <= 1e-10

    @pytest.mark.parametrize("spiky", [False, True])
    def test_vjp_matches_finite_differences_and_torch(self, spiky: bool) -> None:
        rng = np.random.default_rng(0)
        x, w = 2 * rng.standard_normal(6), rng.standard_normal(6)
        if spiky:  # one coordinate dominates: the ℓ1 projection's support has a single element
            x[2] = 10.0
        for c in (L1Ball(radius=1.0), Box(lo=-0.5, hi=0.5), Box(lo=0, hi=1, mask=np.array([1, 0, 1, 0, 1, 0.0]))):
            eps = 1e-7
            J = np.array([(c._project(x + eps * e, np) - c._project(x - eps * e, np)) / (2 * eps) for e in np.eye(6)]).T
            np.testing.assert_allclose(c.to("numpy").project_vjp(x, w), J.T @ w, atol=1e-6)
            t = c.to("torch").project_vjp((torch.tensor(x),), (torch.tensor(w),))[0].numpy()
            np.testing.assert_allclose(t, J.T @ w, atol=1e-6)

    def test_bad_parameters(self) -> None:
        with pytest.raises(ValueError, match="radius"):
            L1Ball(radius=0.0)
        with pytest.raises(ValueError, match="lo < hi"):
            Box(lo=1.0, hi=1.0)


def test_registry_errors_list_valid_names() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(ValueError, match="unknown widget 'b'; valid widget names: a"):
        reg.get("b")
    assert reg.names() == ["a"] and "a" in reg


def test_atomic_write_leaves_old_file_on_failure(tmp_path) -> None:
    path = tmp_path / "out.json"
    write_json(path, {"x": float("nan"), "y": np.arange(2), "a": 1})
    assert json.loads(path.read_text()) == {"x": "nan", "y": [0, 1], "a": 1}
    assert list(json.loads(path.read_text())) == ["x", "y", "a"]  # keys stay in the order they were written
    with pytest.raises(RuntimeError):
        with atomic_open(path) as handle:
            handle.write("half")
            raise RuntimeError("interrupted")
    assert json.loads(path.read_text())["y"] == [0, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_momentum_coupled_weight_decay_matches_torch_sgd() -> None:
    torch.manual_seed(0)
    p = torch.randn(5, dtype=torch.float64, requires_grad=True)
    start = p.detach().clone()
    grads = [torch.randn(5, dtype=torch.float64) for _ in range(4)]
    opt = torch.optim.SGD([p], lr=0.05, momentum=0.9, weight_decay=5e-4)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    b = get_backend("torch")
    t = Momentum(coupled_weight_decay=5e-4)
    theta, state = (start.clone(),), t.init(b, (start,))
    for g in grads:
        u, state = t.update(b, (g,), state, theta)
        theta = b.axpy(-0.05, u, theta)
    torch.testing.assert_close(theta[0], p.detach(), rtol=1e-12, atol=1e-12)


def test_unused_sides_need_no_data() -> None:
    s = MiniBatch(n_lower=0, n_upper=10, batch_lower=None, batch_upper=2)
    assert s.draw(0).lower is None and len(s.draw(0).upper) == 2
    with pytest.raises(ValueError, match="n_lower must be >= 1 when batch_lower is set"):
        MiniBatch(n_lower=0, n_upper=10, batch_lower=1, batch_upper=2)


def test_compare_hvp_strategies_flags_a_wrong_third_derivative() -> None:
    """A loss whose autograd second derivative is deliberately wrong (a custom Function) is caught."""
    from ofmu_theory import BilevelProblem, TorchObjective
    from ofmu_theory.checks import compare_hvp_strategies

    class BadCube(torch.autograd.Function):
        """f(x) = x³ with a backward whose own derivative is wrong (3x² computed via a detached x)."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x.detach() ** 2  # detached: its derivative in x is lost

    def good(params, batch):
        return -((params[0] - 1.0) ** 4).sum()

    def bad(params, batch):
        return -BadCube.apply(params[0] - 1.0).pow(2).sum() * 0.5

    theta0 = (torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64),)
    upper = TorchObjective(lambda p, b: 0.5 * (p[0] ** 2).sum())
    ok = BilevelProblem(name="ok", lower=TorchObjective(good), upper=upper, theta0=theta0)
    broken = BilevelProblem(name="bad", lower=TorchObjective(bad), upper=upper, theta0=theta0)
    assert compare_hvp_strategies(ok)["fd"] < 1e-6
    assert compare_hvp_strategies(broken)["fd"] > 1e-2


def test_non_finite_values_round_trip_through_json() -> None:
    import math

    from ofmu_theory.io import from_jsonable, to_jsonable

    encoded = to_jsonable({"a": [float("nan"), 1.5, float("inf")], "b": -math.inf, "c": "text"})
    assert encoded == {"a": ["nan", 1.5, "inf"], "b": "-inf", "c": "text"}
    decoded = from_jsonable(encoded)
    assert math.isnan(decoded["a"][0]) and decoded["a"][1:] == [1.5, math.inf] and decoded["b"] == -math.inf
    assert decoded["c"] == "text"
