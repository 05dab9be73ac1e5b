"""Solver contract over every registry entry, backend agreement, monotonicity, convergence, bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ofmu_theory import SOLVERS, Armijo, Constants, Evaluator, InverseSmoothness, MiniBatch, Status
from ofmu_theory.sampler import Batches, FullBatch
from ofmu_theory.solvers.combined import CombinedGradient
from tests.ofmu_theory.problems import least_squares, least_squares_from, make_problem, poly_problem

# Small, stable settings (constant steps so the backends follow identical paths). A solver without an
# entry here gets GENERIC's values for the fields it has, so every registered solver runs the contract.
SETTINGS: dict[str, dict] = {
    "ofmu": dict(beta=0.1, rho=0.5, inner_steps=2, eta_in=0.05, eta_out=0.05),
    "grad-penalty": dict(rho=0.5, eta_out=0.05),
    "value-penalty": dict(rho=0.5, inner_steps=3, eta_in=0.05, eta=0.05),
    "scalarized": dict(eta=0.05),
    "blur": dict(eta=0.05),
    "projection": dict(eta=0.05),
    "alternating": dict(inner_steps=1, outer_steps=2, eta_in=0.05, eta_out=0.05),
}
GENERIC: dict = dict(beta=0.1, rho=0.5, inner_steps=2, outer_steps=2, eta=0.05, eta_in=0.05, eta_out=0.05)


def settings_for(name: str) -> dict:
    """SETTINGS[name], or GENERIC restricted to the solver's own hyper-parameters."""
    if name in SETTINGS:
        return SETTINGS[name]
    own = {f.name for f in dataclasses.fields(SOLVERS.get(name))}
    return {key: value for key, value in GENERIC.items() if key in own}


def test_settings_name_registered_solvers_and_build_every_solver() -> None:
    assert set(SETTINGS) <= set(SOLVERS.names()), "a SETTINGS entry names no registered solver"
    for name in SOLVERS.names():
        SOLVERS.get(name)(max_steps=1, **settings_for(name))  # raises on an invalid setting


@pytest.mark.parametrize("name", SOLVERS.names())
def test_contract_finite_deterministic_counted(name: str, backend_name: str) -> None:
    problem = poly_problem(3, 5, backend_name)
    solver = SOLVERS.get(name)(max_steps=6, **settings_for(name))
    first, second = solver.run(problem), solver.run(problem)
    b = problem.backend
    assert first.status is Status.MAX_STEPS and first.success and first.nit == 6
    assert b.isfinite(first.theta)
    np.testing.assert_array_equal(b.to_numpy(first.theta), b.to_numpy(second.theta))
    assert first.trace.n_rows == 6 and all(len(col) == 6 for col in first.trace.values())
    assert np.all(np.isfinite(first.trace["error"]))
    # counts: the last trace row holds the cumulative totals, which the result reports
    assert first.n_grad == first.trace["n_grad"][-1] > 0
    assert first.n_hvp == first.trace["n_hvp"][-1]
    assert first.options["solver"] == name and first.options["backend"] == backend_name


@pytest.mark.parametrize("name", SOLVERS.names())
def test_numpy_and_torch_agree_in_float64(name: str) -> None:
    """Analytic numpy oracles and torch autograd give the same iterates to 1e-10 over 25 steps."""
    its = {}
    for backend in ("numpy", "torch"):
        res = SOLVERS.get(name)(max_steps=25, **settings_for(name)).run(poly_problem(5, 6, backend), record_iterates=True)
        its[backend] = res.iterates
    scale = 1.0 + np.abs(its["numpy"]).max()
    assert np.abs(its["numpy"] - its["torch"]).max() <= 1e-10 * scale


def test_oracle_counts_per_ofmu_step() -> None:
    """OFMU, exact HVPs on numpy, β > 0: per step T·(2 grads + 2 HVPs) inner, then ∇F's
    2 grads + 2 HVPs + the analytic ∇²Φ·w (2 grads, 4 HVPs, 2 third-order products)."""
    T = 3
    res = SOLVERS.get("ofmu")(max_steps=2, beta=0.2, rho=1.0, inner_steps=T, eta_in=0.01, eta_out=0.01).run(
        poly_problem(0, 4, "numpy")
    )
    assert res.n_grad == 2 * (2 * T + 2 + 2)
    assert res.n_hvp == 2 * (2 * T + 2 + 4)
    assert res.n_third == 2 * 2


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_penalised_objective_decreases_monotonically_with_admissible_step(backend: str) -> None:
    """Single-loop G-PBGD with η = 1/L_F(ρ) on a quadratic: F_ρ(θ_k) is non-increasing."""
    rng = np.random.default_rng(0)
    lower, upper, _, L = least_squares(rng, 3, 6)
    problem = make_problem(lower, upper, rng.standard_normal(6), backend, constants=Constants(L_lower=L, L_upper=1.0, M_lower=0.0))
    rho = 2.0
    res = SOLVERS.get("grad-penalty")(rho=rho, eta_out=InverseSmoothness(), max_steps=60).run(problem, record_iterates=True)
    ev = Evaluator(problem)
    F = [ev.penalised_value(problem.backend.from_numpy(x, problem.theta0), rho, Batches(None, None)) for x in res.iterates]
    assert np.all(np.diff(F) <= 1e-12 * (1 + abs(F[0])))
    assert F[-1] < F[0]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_ofmu_armijo_decreases_F_at_each_outer_step(backend: str) -> None:
    problem = poly_problem(2, 5, backend)
    res = SOLVERS.get("ofmu")(beta=0.2, rho=1.0, inner_steps=0, eta_out=Armijo(), max_steps=15).run(problem)
    assert np.all(res.trace["line_search_ok"] == 1.0)
    assert np.all(np.diff(res.trace["F"]) < 0)


def _normalised_least_squares(seed: int):
    """Least squares with ‖A‖ = 1, so L_lower = L_upper = 1 and the penalised conditioning is 1 + 2ρ."""
    from ofmu_theory import ArrayObjective

    lower, upper, _, L = least_squares(np.random.default_rng(seed), 2, 4)
    A, b = lower.data["A"] / np.sqrt(L), lower.data["b"] / np.sqrt(L)
    lower = ArrayObjective(value=lower.value, grad=lower.grad, hvp=lower.hvp, d3=lower.d3, data={"A": A, "b": b})
    c = upper.data["c"]
    theta_star = c + np.linalg.pinv(A) @ (b - A @ c)
    problem = make_problem(lower, upper, np.zeros(4), "numpy", constants=Constants(L_lower=1.0, L_upper=1.0, M_lower=0.0))
    return problem, A, b, c, theta_star


RHO = 100.0


def test_grad_penalty_reaches_the_penalised_minimiser_within_O_1_over_rho() -> None:
    """G-PBGD with η = 1/L_F(ρ) converges to θ_ρ solving (I + 2ρM²)θ = c + 2ρMAᵀb, M = AᵀA, and
    ‖θ_ρ − θ*‖ ≤ C/ρ (C from the same formula at ρ/10: the O(1/ρ) law gives a factor ~10 per decade)."""
    problem, A, b, c, theta_star = _normalised_least_squares(4)
    M = A.T @ A
    theta_rho = lambda r: np.linalg.solve(np.eye(4) + 2 * r * M @ M, c + 2 * r * M @ A.T @ b)  # noqa: E731
    res = SOLVERS.get("grad-penalty")(rho=RHO, eta_out=InverseSmoothness(), max_steps=20000).run(problem)
    assert np.linalg.norm(res.theta - theta_rho(RHO)) <= 1e-9
    d1, d10 = np.linalg.norm(theta_rho(RHO) - theta_star), np.linalg.norm(theta_rho(RHO / 10) - theta_star)
    assert 8.0 < d10 / d1 < 12.0


def test_value_penalty_reaches_its_penalised_minimiser() -> None:
    """V-PBGD's F = ½‖θ − c‖² + ρ·½‖Aθ − b‖² here (v = 0 for a wide A): θ_ρ = (I + ρM)⁻¹(c + ρAᵀb)."""
    problem, A, b, c, theta_star = _normalised_least_squares(4)
    target = np.linalg.solve(np.eye(4) + RHO * A.T @ A, c + RHO * A.T @ b)
    res = SOLVERS.get("value-penalty")(rho=RHO, inner_steps=20, eta_in=InverseSmoothness(), eta=0.5 / (1 + RHO), max_steps=5000).run(problem)
    assert np.linalg.norm(res.theta - target) <= 1e-8
    assert np.linalg.norm(target - theta_star) <= 0.1


def test_ofmu_without_similarity_approaches_the_bilevel_solution() -> None:
    """OFMU (β = 0, T = 2) does not stop at θ_ρ (the inner ascent moves the evaluation point) but
    its limit is as close to θ* as θ_ρ is: within 2‖θ_ρ − θ*‖."""
    problem, A, b, c, theta_star = _normalised_least_squares(4)
    M = A.T @ A
    theta_rho = np.linalg.solve(np.eye(4) + 2 * RHO * M @ M, c + 2 * RHO * M @ A.T @ b)
    res = SOLVERS.get("ofmu")(beta=0.0, sim="none", rho=RHO, inner_steps=2, eta_in=InverseSmoothness(), eta_out=InverseSmoothness(), max_steps=20000).run(problem)
    assert np.linalg.norm(res.theta - theta_star) <= 2 * np.linalg.norm(theta_rho - theta_star)


def test_diverging_run_keeps_last_finite_iterate() -> None:
    """A step far above 2/L on a quadratic blows up: status DIVERGED, last finite θ returned."""
    rng = np.random.default_rng(1)
    lower, upper, _, L = least_squares(rng, 3, 5)
    problem = make_problem(lower, upper, rng.standard_normal(5), "numpy")
    res = SOLVERS.get("scalarized")(eta=1e3, max_steps=500).run(problem, record_iterates=True)
    assert res.status is Status.DIVERGED and not res.success
    assert np.all(np.isfinite(res.theta))
    np.testing.assert_array_equal(res.theta, res.iterates[-1])
    assert res.nit == len(res.iterates) - 1 < 500
    last_row = [res.trace[c][-1] for c in ("loss_f", "loss_r", "error")]
    assert not all(math.isfinite(v) for v in last_row)  # the failing step is recorded in the trace


def test_callback_stops_and_tol_converges() -> None:
    problem = poly_problem(1, 4, "numpy")
    seen = []
    res = SOLVERS.get("scalarized")(eta=0.01, max_steps=50).run(problem, callback=lambda info: seen.append(info.k) or info.k >= 4)
    assert res.status is Status.STOPPED and res.nit == 5 and seen == [0, 1, 2, 3, 4]
    res = SOLVERS.get("scalarized")(forget_weight=0.0, eta=Armijo(), max_steps=500, tol=1e-8).run(problem)
    assert res.status is Status.CONVERGED and res.trace["error"][-1] <= 1e-8


def test_resume_gives_the_same_result_as_not_stopping() -> None:
    problem = poly_problem(6, 5, "torch")
    solver = SOLVERS.get("ofmu")(max_steps=8, **SETTINGS["ofmu"])
    full = solver.run(problem)
    half = SOLVERS.get("ofmu")(max_steps=4, **SETTINGS["ofmu"]).run(problem)
    resumed = solver.run(problem, init_state=half.state)
    b = problem.backend
    np.testing.assert_array_equal(b.to_numpy(full.theta), b.to_numpy(resumed.theta))


def test_stochastic_mode_is_seeded() -> None:
    rng = np.random.default_rng(0)
    from ofmu_theory import ArrayObjective

    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    rows = ArrayObjective(
        value=lambda th, D, xp: 0.5 * ((D["X"] @ th - D["y"]) ** 2).mean(),
        grad=lambda th, D: D["X"].T @ (D["X"] @ th - D["y"]) / len(D["y"]),
        hvp=lambda th, v, D: D["X"].T @ (D["X"] @ v) / len(D["y"]),
        data={"X": X, "y": y}, row_keys=("X", "y"),
    )
    problem = make_problem(rows, rows, np.zeros(3), "numpy")
    sampler = MiniBatch(n_lower=40, n_upper=40, batch_lower=8, batch_upper=8, seed=3)
    solver = SOLVERS.get("scalarized")(forget_weight=0.0, eta=0.1, max_steps=20)
    a, b = solver.run(problem, sampler=sampler), solver.run(problem, sampler=sampler)
    np.testing.assert_array_equal(a.theta, b.theta)
    other = solver.run(problem, sampler=MiniBatch(n_lower=40, n_upper=40, batch_lower=8, batch_upper=8, seed=4))
    assert not np.array_equal(a.theta, other.theta)
    with pytest.raises(ValueError, match="n_upper=30"):
        solver.run(problem, sampler=MiniBatch(n_lower=40, n_upper=30, batch_lower=8, batch_upper=8))


class TestBadInput:
    def test_unknown_names(self) -> None:
        with pytest.raises(ValueError, match="unknown solver 'nope'.*ofmu"):
            SOLVERS.get("nope")
        with pytest.raises(ValueError, match="unknown HVP strategy 'magic'.*exact, fd, fwd_rev"):
            Evaluator(poly_problem(0, 3, "numpy"), hvp="magic")
        with pytest.raises(ValueError, match="unknown similarity 'cos'"):
            SOLVERS.get("ofmu")(sim="cos")

    @pytest.mark.parametrize("kwargs,match", [
        (dict(rho=0.0), "rho must be"), (dict(rho=-1.0), "rho must be"), (dict(eta_out=0.0), "eta_out must be"),
        (dict(eta_in=-0.1), "eta_in must be"), (dict(gamma=0.5), "gamma must be"), (dict(inner_steps=-1), "inner_steps"),
        (dict(beta=-0.1), "beta must be"), (dict(max_steps=-1), "max_steps"), (dict(rho=1.0, rho_cap=0.5), "rho_cap"),
        (dict(eta_in=float("nan")), "eta_in must be"), (dict(eval_point="middle"), "eval_point"),
    ])
    def test_bad_hyper_parameters(self, kwargs: dict, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            SOLVERS.get("ofmu")(**kwargs)

    def test_mismatched_shapes(self) -> None:
        problem = poly_problem(0, 4, "numpy")
        with pytest.raises(ValueError, match="theta0 has shape"):
            SOLVERS.get("scalarized")().run(problem, np.zeros(5))
        tp = poly_problem(0, 4, "torch")
        import torch

        with pytest.raises(ValueError, match="tensor shapes"):
            SOLVERS.get("scalarized")().run(tp, (torch.zeros(3, dtype=torch.float64),))

    def test_non_finite_start(self) -> None:
        problem = poly_problem(0, 4, "numpy")
        with pytest.raises(ValueError, match="theta0 has non-finite"):
            SOLVERS.get("scalarized")().run(problem, np.array([0.0, np.nan, 0.0, 0.0]))
        from ofmu_theory import ArrayObjective

        bad = ArrayObjective(value=lambda th, D, xp: xp.log(th[0] - 10.0), grad=lambda th, D: np.full_like(th, np.nan), hvp=lambda th, v, D: v)
        lower, upper, _, _ = least_squares(np.random.default_rng(0), 2, 4)
        with pytest.raises(ValueError, match="lower objective's value is non-finite"):
            SOLVERS.get("scalarized")().run(make_problem(bad, upper, np.zeros(4), "numpy"))

    def test_exact_third_order_needed_on_numpy(self) -> None:
        from ofmu_theory import ArrayObjective

        no_d3 = ArrayObjective(value=lambda th, D, xp: -(th**4).sum(), grad=lambda th, D: -4 * th**3, hvp=lambda th, v, D: -12 * th**2 * v)
        problem = make_problem(no_d3, no_d3, np.ones(3), "numpy")
        with pytest.raises(ValueError, match="third-order"):
            SOLVERS.get("ofmu")(beta=0.1).run(problem)
        SOLVERS.get("ofmu")(beta=0.1, hvp="fd", max_steps=1, eta_in=1e-3, eta_out=1e-3).run(problem)  # fd needs none
        with pytest.raises(ValueError, match="fwd_rev.*torch"):
            SOLVERS.get("ofmu")(hvp="fwd_rev").run(problem)

    def test_line_search_rules_need_what_they_use(self) -> None:
        problem = poly_problem(0, 4, "numpy")
        with pytest.raises(ValueError, match="1/L needs the smoothness"):
            SOLVERS.get("ofmu")(eta_out=InverseSmoothness(), max_steps=1).run(problem)
        with pytest.raises(ValueError, match="constant step"):
            SOLVERS.get("blur")(eta=Armijo(), max_steps=1).run(problem)


def test_landing_on_the_lower_solution_set_is_not_divergence() -> None:
    """At θ with ∇L_f = 0 the penalty's HVP is taken with w = 0: its ratio is undefined (NaN in the
    trace) but the run goes on. Integer data and a start with Aθ_0 = b exactly make ∇L_f(θ_0) = 0 in
    floating point, not only up to round-off."""
    A = np.array([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    b = np.array([3.0, -2.0])
    lower, upper, _, _ = least_squares_from(A, b, np.array([1.0, 2.0, 3.0, 4.0]))
    theta0 = np.array([1.0, 1.0, 1.0, 3.0])  # Aθ_0 = (3, -2) = b
    assert np.array_equal(A @ theta0, b)
    problem = make_problem(lower, upper, theta0, "numpy")
    res = SOLVERS.get("grad-penalty")(rho=1.0, eta_out=0.01, max_steps=3).run(problem)
    assert res.success and res.nit == 3 and np.isnan(res.trace["hvp_ratio"][0])


def test_written_files_get_the_usual_mode(tmp_path) -> None:
    import os

    from ofmu_theory.io import write_text

    write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_value_penalty_armijo_accepts_every_outer_step() -> None:
    """The line search on V-PBGD's model of F (v linearised in x, Danskin) finds a decrease at each step."""
    res = SOLVERS.get("value-penalty")(rho=0.5, inner_steps=3, eta_in=0.05, eta=Armijo(), max_steps=5).run(poly_problem(2, 4, "numpy"))
    assert res.success and np.all(res.trace["line_search_ok"] == 1.0)


def _with_constants(problem, **constants):
    from dataclasses import replace

    return replace(problem, constants=Constants(**constants))


def test_inverse_smoothness_steps_use_each_solvers_smoothness() -> None:
    """η = 1/L with L = γ_f L_f + λ L_r (scalarised) and L_r + ρ(L_f + L_f²/μ_f) (value penalty)."""
    problem = _with_constants(poly_problem(0, 3, "numpy"), L_lower=3.0, L_upper=2.0, mu_lower=0.5)
    res = SOLVERS.get("scalarized")(forget_weight=0.5, retain_weight=2.0, eta=InverseSmoothness(), max_steps=1).run(problem)
    assert res.trace["eta_out"][0] == pytest.approx(1 / (0.5 * 3.0 + 2.0 * 2.0), rel=1e-15)
    res = SOLVERS.get("value-penalty")(rho=0.5, inner_steps=1, eta=InverseSmoothness(), max_steps=1).run(problem)
    assert res.trace["eta_out"][0] == pytest.approx(1 / (2.0 + 0.5 * (3.0 + 3.0**2 / 0.5)), rel=1e-15)
    no_mu = _with_constants(problem, L_lower=3.0, L_upper=2.0, mu_lower=0.0)
    with pytest.raises(ValueError, match="step rule 1/L needs the smoothness of the value penalty objective"):
        SOLVERS.get("value-penalty")(rho=0.5, inner_steps=1, eta=InverseSmoothness(), max_steps=1).run(no_mu)


@pytest.mark.parametrize("sense", ["max", "min"])
def test_one_blur_step_is_the_documented_combination(sense: str) -> None:
    """θ₁ = θ₀ − η(g_r + (γ − ⟨g_r, g_d⟩/‖g_d‖²) g_d) with g_d = −σ∇L_f."""
    problem = poly_problem(5, 4, "numpy", sense=sense)
    sigma = 1.0 if sense == "max" else -1.0
    theta0 = problem.theta0
    g_d, g_r = -sigma * problem.lower.value_and_grad(theta0)[1], problem.upper.value_and_grad(theta0)[1]
    expected = theta0 - 0.1 * (g_r + (0.7 - g_r @ g_d / (g_d @ g_d)) * g_d)
    res = SOLVERS.get("blur")(gamma=0.7, eta=0.1, max_steps=1).run(problem)
    np.testing.assert_allclose(res.theta, expected, rtol=1e-13)


def test_alternating_ascends_only_while_k_is_below_ascent_until() -> None:
    res = SOLVERS.get("alternating")(inner_steps=2, outer_steps=1, ascent_until=2, max_steps=4).run(poly_problem(0, 3, "numpy"))
    assert res.n_grad == 2 * 2 + 4 * 1  # T = 2 max-steps at k = 0, 1; one min-step at every k


def test_ofmu_ascend_takes_T_projected_ascent_steps() -> None:
    """θ̃ after T steps θ ← θ + η_in σ∇L_f (β = 0), with the draws it used and the last η_in."""
    problem = poly_problem(6, 3, "numpy")
    solver = SOLVERS.get("ofmu")(beta=0.0, inner_steps=3, eta_in=0.05, max_steps=1)
    ev = solver.evaluator(problem)
    ev.sampler = FullBatch()  # as Solver.run sets it
    state = solver.init(ev, problem.theta0)
    theta, draws, _, eta = solver.ascend(ev, problem.theta0, 4, state.inner_state)
    expected = problem.theta0
    for _ in range(3):
        expected = expected + 0.05 * problem.lower.value_and_grad(expected)[1]
    np.testing.assert_allclose(theta, expected, rtol=1e-14)
    assert (draws, eta) == (7, 0.05)


def test_a_lagged_similarity_gradient_is_refreshed_every_sim_lag_evaluations() -> None:
    """sim_lag = 3, T = 1, forward differences: ∇Sim is fresh on evaluations 0, 3, 6, 9 of 12 (two per step).
    Per 3 steps: inner fresh 4 + outer lagged 3 + inner lagged 1 + outer fresh 8 + inner lagged 1 + outer
    lagged 3 = 20 gradients (fresh: g_f, g_r and one difference each; lagged outer: frozen curvature)."""
    solver = SOLVERS.get("ofmu")(beta=0.3, sim="signed", hvp="fd", fd_scheme="forward", inner_steps=1,
                                 eta_in=0.05, eta_out=0.05, sim_lag=3, max_steps=6)
    assert solver.run(poly_problem(5, 5, "numpy")).n_grad == 40


@pytest.mark.parametrize(("name", "value"), [("L_upper", -1.0), ("mu_lower", float("inf")), ("G_upper", float("nan"))])
def test_constants_must_be_finite_and_nonnegative(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^constant {name} must be a finite number >= 0 or None, got {value!r}$"):
        Constants(**{name: value})


@pytest.mark.parametrize("name", [n for n in SOLVERS.names() if not issubclass(SOLVERS.get(n), CombinedGradient)])
def test_line_search_steps_do_not_depend_on_a_constant_in_the_retain_loss_on_float32(name: str) -> None:
    """Adding a constant C to L_r shifts every value a line search compares by C, so the steps it picks are
    the same. With float32 parameters and C = 2^24 (where float32 resolves steps of 2) this holds only when
    the line search sums the float32 losses in double precision: a value left a float32 tensor would round
    F's change away. (Two steps keep F − C above double precision's resolution at C, ~4e-9.)"""
    import torch

    from ofmu_theory import BilevelProblem
    from ofmu_theory.objectives import TorchObjective

    def steps(offset: float) -> dict[str, list[float]]:
        lower = TorchObjective(lambda p, batch: -1.5 * (p[0][1] - p[0][0]) ** 2)  # maximised: y = x
        upper = TorchObjective(lambda p, batch: 0.0 * p[0].sum() + offset)  # only the penalty moves θ
        problem = BilevelProblem(name="offset", lower=lower, upper=upper,
                                 theta0=(torch.tensor([0.0, 0.7], dtype=torch.float32),),
                                 block=(torch.tensor([0.0, 1.0], dtype=torch.float32),), constants=Constants())
        own = {f.name for f in dataclasses.fields(SOLVERS.get(name))}
        rules = {key: Armijo() for key in ("eta", "eta_in", "eta_out") if key in own}
        trace = SOLVERS.get(name)(max_steps=2, **rules).run(problem).trace
        return {c: np.nan_to_num(trace[c], nan=-1.0).tolist() for c in trace if c.startswith("eta")}

    assert steps(2.0**24) == steps(0.0)
