"""The gradient-similarity term Sim(a, b) of Φ_β and the vectors that give its gradient.

With a = σ∇L_lower (ascent gradient of the lower level), b = ∇L_upper and the smoothed norms
n_a = √(‖a‖² + δ²), n_b = √(‖b‖² + δ²) (the guard for zero gradients; exact as δ → 0):

    S   = ⟨a, b⟩ / (n_a n_b)
    ∇S  = H_a p + H_b q,   p = b/(n_a n_b) − S a/n_a²,   q = a/(n_a n_b) − S b/n_b²

(the reference's formula, arXiv 2509.22483 §3). Variants of the term β·Sim in Φ_β:

* ``signed``  — Sim = S (the paper; maximising Φ drives S toward −1),
* ``squared`` — Sim = S² (true decorrelation, drives S toward 0), ∇S² = 2S∇S,
* ``none``    — no similarity term (β is ignored).

Cheaper estimators of ∇Sim inside ∇Φ_β (options of the ``ofmu`` solver; ``SIM_PICKS``, ``SIM_CURVATURES``,
:class:`SimCache` for the lagged term): see :meth:`ofmu_theory.evaluator.Evaluator.phi` and
:meth:`~ofmu_theory.evaluator.Evaluator.penalised`.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from ofmu_theory.backends import Backend, Scalar, Vec

SimKind = Literal["signed", "squared", "none"]
SIM_KINDS: tuple[str, ...] = ("signed", "squared", "none")


def check_sim(kind: str) -> SimKind:
    if kind not in SIM_KINDS:
        raise ValueError(f"unknown similarity {kind!r}; valid similarity names: {', '.join(SIM_KINDS)}")
    return kind  # type: ignore[return-value]


class CosineTerms(NamedTuple):
    """The signed cosine S and the vectors p, q with ∇S = H_a p + H_b q."""

    cosine: Scalar
    p: Vec
    q: Vec
    norm_a: Scalar
    norm_b: Scalar


def cosine_terms(backend: Backend, a: Vec, b: Vec, delta: float) -> CosineTerms:
    """S = ⟨a,b⟩/(n_a n_b) and p, q (see the module docstring)."""
    na = backend.sqrt(backend.vdot(a, a) + delta**2)
    nb = backend.sqrt(backend.vdot(b, b) + delta**2)
    s = backend.vdot(a, b) / (na * nb)
    p = backend.axpy(-s / na**2, a, backend.scale(1.0 / (na * nb), b))
    q = backend.axpy(-s / nb**2, b, backend.scale(1.0 / (na * nb), a))
    return CosineTerms(s, p, q, na, nb)


def sim_value(kind: SimKind, cosine: Any) -> Any:
    """The value of the similarity term for the chosen variant."""
    if kind == "signed":
        return cosine
    if kind == "squared":
        return cosine * cosine
    return 0.0 * cosine


def sim_grad_scale(kind: SimKind, cosine: Any) -> Any:
    """c with ∇Sim = c·∇S: 1 (signed), 2S (squared), 0 (none)."""
    if kind == "signed":
        return 1.0
    if kind == "squared":
        return 2.0 * cosine
    return 0.0


SIM_PICKS: tuple[str, ...] = ("both", "random")
SIM_CURVATURES: tuple[str, ...] = ("full", "frozen")


class SimCache(NamedTuple):
    """The lagged similarity term: ∇Sim = c·∇S as last computed, reused until it is ``lag`` evaluations old.

    Attributes:
        grad_sim: ∇Sim at the last refresh (detached).
        cosine: S at the last refresh (the value used where a lagged evaluation skips ∇L_r).
        age: evaluations of ∇Φ_β that have used it, the refresh included (1 right after it).
    """

    grad_sim: Vec
    cosine: Scalar
    age: int
