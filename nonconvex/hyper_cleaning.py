"""Data hyper-cleaning: learn per-example weights that undo label noise (stochastic, non-convex).

θ = (λ, vec W): λ ∈ R^N one logit per training row (the upper variable), W ∈ R^{C×(d+1)} a linear
softmax classifier with a bias column (the lower variable, block = (0, …, 0, 1, …, 1)). Both
levels are minimised:

.. math::

    g(λ, W) = \\frac1N \\sum_{i=1}^N σ(λ_i)\\,\\mathrm{CE}(W x_i, \\tilde y_i) + \\frac{c}{2}\\|W\\|^2,
    \\qquad
    f(λ, W) = \\frac{1}{N_v} \\sum_{j=1}^{N_v} \\mathrm{CE}(W x_j, y_j),

with noisy training labels ỹ (a share ``corruption`` of them replaced by another class) and a
clean validation set. For fixed λ, g is c-strongly convex in W, so W*(λ) is unique; the
hyper-objective φ(λ) = f(λ, W*(λ)) is non-convex in general (not checked per instance), and g is
jointly non-convex (∂²g/∂λ_i² = σ''(λ_i)·CE_i/N is negative for λ_i > 0). A good solution gives the corrupted rows small weights σ(λ_i).

Source: L. Franceschi, M. Donini, P. Frasconi, M. Pontil, "Forward and reverse gradient-based
hyperparameter optimization", ICML 2017 (data hyper-cleaning, weights σ(λ_i)); here on synthetic
Gaussian blobs instead of MNIST.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.optimize import minimize

from nonconvex._common import IdentityEq, check_float, check_int, check_seed, frozen, merge_params
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import Constants, Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid_derivs(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    s = 1.0 / (1.0 + np.exp(-z))
    s1 = s * (1 - s)
    return s, s1, s1 * (1 - 2 * s), s1 * (1 - 6 * s + 6 * s**2)


def _jac(p: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Row-wise (diag p − ppᵀ) a: the softmax Jacobian applied to a (N, C)."""
    return p * (a - (p * a).sum(1, keepdims=True))


@dataclass(frozen=True, kw_only=True)
class WeightedCE:
    """(1/N) Σ w_i CE(W x_i, T_i) + c/2‖W‖² over θ = (λ, vec W), w_i = σ(λ_{idx_i}) or 1.

    Data keys (row-indexed): ``X`` (N, d+1), ``T`` (N, C) one-hot targets and, when weighted,
    ``idx`` (N,) the rows' positions in λ (so a mini-batch picks its own λ_i).
    """

    n_lam: int
    n_classes: int
    n_in: int
    reg: float = 0.0
    weighted: bool = True

    def split(self, theta: Any) -> tuple[Any, Any]:
        return theta[: self.n_lam], theta[self.n_lam :].reshape(self.n_classes, self.n_in)

    def value(self, theta: Any, data: Mapping[str, Any], xp: Any) -> Any:
        lam, w = self.split(theta)
        s = data["X"] @ w.T  # (N, C)
        top = xp.amax(s, axis=1, keepdims=True)
        ce = xp.log(xp.sum(xp.exp(s - top), axis=1)) + top[:, 0] - xp.sum(data["T"] * s, axis=1)
        if self.weighted:
            ce = ce / (1 + xp.exp(-lam[data["idx"]]))
        return xp.mean(ce) + 0.5 * self.reg * xp.sum(theta[self.n_lam :] ** 2)

    def _parts(self, theta: np.ndarray, data: Mapping[str, Any]) -> tuple[Any, ...]:
        lam, w = self.split(theta)
        x, t = data["X"], data["T"]
        s = x @ w.T
        p = _softmax(s)
        ce = np.log(np.exp(s - s.max(1, keepdims=True)).sum(1)) + s.max(1) - (t * s).sum(1)
        if self.weighted:
            sig = _sigmoid_derivs(lam[data["idx"]])
        else:
            one = np.ones(len(x))
            sig = (one, 0 * one, 0 * one, 0 * one)
        return x, p, p - t, ce, sig

    def _assemble(self, data: Mapping[str, Any], g_lam_rows: np.ndarray, g_s: np.ndarray, reg_term: np.ndarray):
        """θ-vector from per-row λ-derivatives (scattered to idx) and logit-derivatives g_s (N, C)."""
        n = len(data["X"])
        g_lam = np.zeros(self.n_lam)
        if self.weighted:
            np.add.at(g_lam, data["idx"], g_lam_rows / n)
        return np.concatenate([g_lam, ((g_s.T @ data["X"]) / n + reg_term).ravel()])

    def grad(self, theta: np.ndarray, data: Mapping[str, Any]) -> np.ndarray:
        x, p, g, ce, (s0, s1, _, _) = self._parts(theta, data)
        return self._assemble(data, s1 * ce, s0[:, None] * g, self.reg * self.split(theta)[1])

    def hvp(self, theta: np.ndarray, v: np.ndarray, data: Mapping[str, Any]) -> np.ndarray:
        x, p, g, ce, (s0, s1, s2, _) = self._parts(theta, data)
        dlam, dw = self.split(v)
        a = dlam[data["idx"]] if self.weighted else np.zeros(len(x))
        ds = x @ dw.T  # (N, C)
        g_lam = s2 * ce * a + s1 * (g * ds).sum(1)
        g_s = (s1 * a)[:, None] * g + s0[:, None] * _jac(p, ds)
        return self._assemble(data, g_lam, g_s, self.reg * dw)

    def d3(self, theta: np.ndarray, u: np.ndarray, v: np.ndarray, data: Mapping[str, Any]) -> np.ndarray:
        """∇_θ D²L[u, v]; per row with α = A x, β = B x (u = (a, A), v = (b, B)):
        D²[u, v] = σ''ab·CE + σ'a⟨g, β⟩ + σ'b⟨g, α⟩ + σ αᵀJβ, g = p − T, J = diag p − ppᵀ."""
        x, p, g, ce, (s0, s1, s2, s3) = self._parts(theta, data)
        (ul, uw), (vl, vw) = self.split(u), self.split(v)
        zero = np.zeros(len(x))
        a, b = (ul[data["idx"]], vl[data["idx"]]) if self.weighted else (zero, zero)
        al, be = x @ uw.T, x @ vw.T  # (N, C)
        j_al, j_be = _jac(p, al), _jac(p, be)
        pa, pb = (p * al).sum(1, keepdims=True), (p * be).sum(1, keepdims=True)
        # ∇_s(αᵀJβ) = p⊙α⊙β − p·pᵀ(α⊙β) − (pᵀβ)Jα − (pᵀα)Jβ
        t3 = _jac(p, al * be) - pb * j_al - pa * j_be
        g_lam = s3 * a * b * ce + s2 * (a * (g * be).sum(1) + b * (g * al).sum(1)) + s1 * (al * j_be).sum(1)
        g_s = (s2 * a * b)[:, None] * g + (s1 * a)[:, None] * j_be + (s1 * b)[:, None] * j_al + s0[:, None] * t3
        return self._assemble(data, g_lam, g_s, 0.0 * uw)


def _lower_data(x: np.ndarray, y: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Training rows, one-hot noisy labels and each row's position in λ (writable copies for torch)."""
    return {"X": np.array(x), "T": np.eye(n_classes)[y], "idx": np.arange(len(y))}


def _fit_classifier(loss: WeightedCE, data: Mapping[str, np.ndarray], lam: np.ndarray) -> np.ndarray:
    """argmin_W loss(λ, W) for fixed λ (strongly convex): L-BFGS, then three Newton steps."""
    lam = np.asarray(lam, dtype=np.float64)

    def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.concatenate([lam, w])
        return float(loss.value(theta, data, np)), loss.grad(theta, data)[lam.size :]

    w = minimize(fun, np.zeros(loss.n_classes * loss.n_in), jac=True, method="L-BFGS-B",
                 options={"maxiter": 500, "gtol": 1e-10, "ftol": 0.0}).x  # fmt: skip
    # Newton polish on the (small, c-strongly convex) block: L-BFGS stalls near round-off.
    eye = np.eye(w.size)
    for _ in range(3):
        theta = np.concatenate([lam, w])
        hess = np.stack([loss.hvp(theta, np.concatenate([0 * lam, e]), data)[lam.size :] for e in eye], axis=1)
        w = w - np.linalg.solve(0.5 * (hess + hess.T), fun(w)[1])
    return w


DEFAULTS: dict[str, Any] = {
    "n_train": 30, "n_val": 30, "n_features": 4, "n_classes": 3, "separation": 1.5, "corruption": 0.3,
    "reg": 0.1,
}  # fmt: skip


def _blobs(rng: np.random.Generator, means: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n rows around the class means (labels uniform), with a constant-1 bias column."""
    y = rng.integers(0, len(means), n)
    x = means[y] + rng.standard_normal((n, means.shape[1]))
    return np.hstack([x, np.ones((n, 1))]), y


@FAMILIES.register("hyper_cleaning")
@dataclass(frozen=True, kw_only=True, eq=False)
class HyperCleaning(IdentityEq, Family):
    """Data hyper-cleaning with a linear softmax classifier (classical sense: both levels minimised).

    Args (to :meth:`sample`):
        n_train, n_val: training (noisy) and validation (clean) rows (defaults 30, 30).
        n_features: d (default 4; a bias column is appended).
        n_classes: C ≥ 2 (default 3).
        separation: class means are N(0, separation²·I_d), noise N(0, I_d) (default 1.5).
        corruption: share of training labels replaced by a uniformly drawn other class (0.3).
        reg: c > 0, the ridge weight that makes g strongly convex in W (default 0.1).

    θ_0 = (0, W*(0)): uniform weights ½ and the classifier trained on the noisy labels.

    Regime: g is c-strongly convex in W (block) but jointly non-convex (negative ∂²g/∂λ_i² where
    λ_i > 0); f depends on W only and is convex in W; the hyper-objective φ(λ) is non-convex in
    general.
    Stochastic: g is a mean over training rows (``X``, ``T``, ``idx``), f over validation rows.
    With β > 0 the OFMU inner objective is non-convex too.

    Constants:
        mu_lower = c: ∇²_W g ≽ cI (strong convexity in the block).
        L_upper = ½·λ_max(X_vᵀX_v/N_v): ∇²f = (1/N_v)Σ J_j ⊗ x_jx_jᵀ and J ≼ ½I (Böhning 1992).
        G_upper = √2·mean‖x_j‖: ‖p − e_y‖ ≤ √2.
        L_lower, M_lower: None over θ (∂²g/∂λ_i² grows with the loss, unbounded in W); in the
        block alone ∇²_W g ≼ (½λ_max(XᵀX/N) + c)I (:meth:`block_smoothness`).
    """

    regime: ClassVar[str] = (
        "lower level c-strongly convex in the classifier W but jointly non-convex; upper level convex "
        "in W with a non-convex hyper-objective in the example weights; stochastic"
    )
    convex: ClassVar[bool] = False
    stochastic: ClassVar[bool] = True
    sense: ClassVar[Sense] = "min"
    form: ClassVar[str] = "classical"

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {"quick": {"n_train": 20, "n_val": 20}, "full": {}}
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        return st.fixed_dictionaries({  # a few noisy training and clean validation rows, ridge weight in [0.01, 1]
            "n_train": st.integers(1, 12),
            "n_val": st.integers(1, 12),
            "n_features": st.integers(1, 4),
            "n_classes": st.integers(2, 4),
            "corruption": st.floats(0.0, 0.5),
            "reg": st.floats(0.01, 1.0),
        })

    config: Mapping[str, Any]
    x_train: np.ndarray  # (N, d+1)
    y_train: np.ndarray  # (N,) noisy labels
    y_clean: np.ndarray  # (N,) true labels
    x_val: np.ndarray  # (N_v, d+1)
    y_val: np.ndarray  # (N_v,)
    start: np.ndarray  # θ_0

    @classmethod
    def sample(cls, *, seed: int = 0, **params: Any) -> HyperCleaning:
        """Draw blobs, corrupt the training labels and fit W*(0), all from ``seed``."""
        p = merge_params("hyper_cleaning", DEFAULTS, params)
        n, n_v = check_int("n_train", p["n_train"], low=1), check_int("n_val", p["n_val"], low=1)
        d, c = check_int("n_features", p["n_features"], low=1), check_int("n_classes", p["n_classes"], low=2)
        sep = check_float("separation", p["separation"], low=0.0)
        corruption = check_float("corruption", p["corruption"], low=0.0, high=1.0)
        reg = check_float("reg", p["reg"], low=0.0, low_open=True)
        config = MappingProxyType({
            "n_train": n, "n_val": n_v, "n_features": d, "n_classes": c, "separation": sep,
            "corruption": corruption, "reg": reg,
        })  # fmt: skip
        rng = np.random.default_rng(check_seed(seed))
        means = sep * rng.standard_normal((c, d))
        x, y_clean = _blobs(rng, means, n)
        x_val, y_val = _blobs(rng, means, n_v)
        y = y_clean.copy()
        flip = rng.choice(n, size=int(round(corruption * n)), replace=False)
        y[flip] = (y[flip] + rng.integers(1, c, flip.size)) % c  # another class, uniformly
        lower = WeightedCE(n_lam=n, n_classes=c, n_in=d + 1, reg=reg, weighted=True)
        w0 = _fit_classifier(lower, _lower_data(x, y, c), np.zeros(n))
        return cls(
            seed=int(seed), config=config, x_train=frozen(x), y_train=frozen(y), y_clean=frozen(y_clean),
            x_val=frozen(x_val), y_val=frozen(y_val), start=frozen(np.concatenate([np.zeros(n), w0])),
        )  # fmt: skip

    @property
    def corrupted(self) -> np.ndarray:
        """Mask of the training rows whose label was corrupted."""
        return self.y_train != self.y_clean

    def _losses(self) -> tuple[WeightedCE, WeightedCE]:
        n, c, k = self.config["n_train"], self.config["n_classes"], self.config["n_features"] + 1
        return (
            WeightedCE(n_lam=n, n_classes=c, n_in=k, reg=self.config["reg"], weighted=True),
            WeightedCE(n_lam=n, n_classes=c, n_in=k, weighted=False),
        )

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        lower, upper = self._losses()
        lower_data = _lower_data(self.x_train, self.y_train, self.config["n_classes"])
        upper_data = {"X": np.array(self.x_val), "T": np.eye(self.config["n_classes"])[self.y_val]}
        return (
            ArrayObjective(value=lower.value, grad=lower.grad, hvp=lower.hvp, d3=lower.d3, data=lower_data,
                           row_keys=("X", "T", "idx")),
            ArrayObjective(value=upper.value, grad=upper.grad, hvp=upper.hvp, d3=upper.d3, data=upper_data,
                           row_keys=("X", "T")),
        )  # fmt: skip

    def theta0(self) -> np.ndarray:
        return np.array(self.start)

    def block(self) -> np.ndarray:
        n = self.config["n_train"]
        return np.concatenate([np.zeros(n), np.ones(self.start.size - n)])

    def constants(self) -> Constants:
        xv = self.x_val
        return Constants(
            mu_lower=self.config["reg"],
            L_upper=0.5 * float(np.linalg.eigvalsh(xv.T @ xv / len(xv))[-1]),
            G_upper=float(np.sqrt(2.0) * np.linalg.norm(xv, axis=1).mean()),
        )

    def block_smoothness(self) -> float:
        """½·λ_max(XᵀX/N) + c ≥ ‖∇²_W g‖ for every λ (σ ≤ 1, J ≼ ½I)."""
        x = self.x_train
        return 0.5 * float(np.linalg.eigvalsh(x.T @ x / len(x))[-1]) + self.config["reg"]

    # --- references ---------------------------------------------------------------------
    def lower_solution(self, lam: np.ndarray) -> np.ndarray:
        """W*(λ) = argmin_W g(λ, W) (flat), by L-BFGS on the strongly convex problem."""
        lower = self._losses()[0]
        return _fit_classifier(lower, _lower_data(self.x_train, self.y_train, lower.n_classes), lam)

    def hyper_objective(self, lam: np.ndarray) -> float:
        """φ(λ) = f(λ, W*(λ))."""
        upper = self.objectives()[1].to("numpy")
        return upper.value(np.concatenate([lam, self.lower_solution(lam)]))

    def sample_weights(self, theta: np.ndarray) -> np.ndarray:
        """σ(λ_i), the weight of each training row."""
        return 1.0 / (1.0 + np.exp(-np.asarray(theta)[: self.config["n_train"]]))

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, **self.config}
