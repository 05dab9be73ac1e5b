"""A two-layer tanh network with a softmax head: one loss, written once, with analytic oracles.

θ = (vec W1, b1, vec W2, b2), W1 ∈ R^{h×d}, W2 ∈ R^{C×h} (row-major). For rows x_i:

.. math::

    Z = X W_1^\\top + b_1,\\quad A = \\tanh Z,\\quad S = A W_2^\\top + b_2 \\quad (N × C),
    \\qquad L(θ) = \\frac1N \\sum_i \\big(κ\\,\\mathrm{lse}(S_i) - ⟨T_i, S_i⟩\\big) + c + \\tfrac{λ}{2}\\|θ\\|^2.

κ = 1, T = one-hot labels, c = 0 is the mean cross-entropy; κ = −1, T = −(1/C)·1, c = log C is
−mean KL(uniform ‖ softmax(S)) = log C + mean_i mean_c log softmax(S_i)_c. The gradient is one
backward pass, the Hessian-vector product one forward R-pass plus one backward R-pass
(Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 1994), and the
third-order product D³L[u, v, ·] a forward-mode derivative of that HVP computation along v.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def _lse(s: Any, xp: Any) -> Any:
    """Row-wise log-sum-exp, shifted by the row max (the shift cancels in value and gradient)."""
    top = xp.amax(s, axis=1, keepdims=True)
    return xp.log(xp.sum(xp.exp(s - top), axis=1)) + top[:, 0]


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True, kw_only=True)
class NetLoss:
    """L(θ) above for a network of input width d, hidden width h, C classes.

    Data keys: ``X`` (N, d) inputs and ``T`` (N, C) targets, both row-indexed.
    """

    d: int
    h: int
    c: int
    kappa: float
    offset: float = 0.0
    lam: float = 0.0

    @property
    def dim(self) -> int:
        return self.h * (self.d + 1) + self.c * (self.h + 1)

    def unpack(self, theta: Any) -> tuple[Any, Any, Any, Any]:
        """(W1 (h, d), b1 (h,), W2 (C, h), b2 (C,)) as views of θ."""
        d, h, c = self.d, self.h, self.c
        i1, i2, i3 = h * d, h * d + h, h * d + h + c * h
        return theta[:i1].reshape(h, d), theta[i1:i2], theta[i2:i3].reshape(c, h), theta[i3:]

    def forward(self, theta: Any, x: Any, xp: Any) -> tuple[Any, Any]:
        """(A, S): hidden activations (N, h) and logits (N, C)."""
        w1, b1, w2, b2 = self.unpack(theta)
        a = xp.tanh(x @ w1.T + b1)  # (N, h)
        return a, a @ w2.T + b2  # (N, C)

    def value(self, theta: Any, data: Any, xp: Any) -> Any:
        _, s = self.forward(theta, data["X"], xp)
        per_row = self.kappa * _lse(s, xp) - xp.sum(data["T"] * s, axis=1)
        return xp.mean(per_row) + self.offset + 0.5 * self.lam * xp.sum(theta * theta)

    def _backward(self, theta: np.ndarray, x: np.ndarray, a: np.ndarray, g_s: np.ndarray) -> np.ndarray:
        """Pull a logit gradient g_s (N, C) back to θ."""
        _, _, w2, _ = self.unpack(theta)
        g_z = (g_s @ w2) * (1 - a**2)  # (N, h)
        return np.concatenate([(g_z.T @ x).ravel(), g_z.sum(0), (g_s.T @ a).ravel(), g_s.sum(0)])

    def grad(self, theta: np.ndarray, data: Any) -> np.ndarray:
        x, t = data["X"], data["T"]
        a, s = self.forward(theta, x, np)
        g_s = (self.kappa * _softmax(s) - t) / len(x)  # (N, C)
        return self._backward(theta, x, a, g_s) + self.lam * theta

    def hvp(self, theta: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
        """Pearlmutter's R-operator: R{·} = d/dt (·)(θ + t v) at t = 0."""
        x, t = data["X"], data["T"]
        n = len(x)
        _, _, w2, _ = self.unpack(theta)
        dw1, db1, dw2, db2 = self.unpack(v)
        a, s = self.forward(theta, x, np)
        p = _softmax(s)
        g_s = (self.kappa * p - t) / n
        r_a = (1 - a**2) * (x @ dw1.T + db1)  # R{A}, (N, h)
        r_s = r_a @ w2.T + a @ dw2.T + db2  # R{S}, (N, C)
        r_gs = self.kappa / n * p * (r_s - (p * r_s).sum(1, keepdims=True))  # (diag p − ppᵀ) R{S}
        g_a = g_s @ w2
        r_ga = r_gs @ w2 + g_s @ dw2
        r_gz = r_ga * (1 - a**2) - 2 * g_a * a * r_a  # (N, h)
        out = np.concatenate([
            (r_gz.T @ x).ravel(), r_gz.sum(0), (r_gs.T @ a + g_s.T @ r_a).ravel(), r_gs.sum(0),
        ])  # fmt: skip
        return out + self.lam * v

    def d3(self, theta: np.ndarray, u: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
        """D³L[u, v, ·] = ∇_θ⟨∇²L(θ)u, v⟩ = R_v{∇²L(θ)u}: forward-mode differentiation of
        :meth:`hvp` (direction u) along v; primes below are R_v{·}. λ/2‖θ‖² adds nothing."""
        x, t = data["X"], data["T"]
        n, k = len(x), self.kappa
        _, _, w2, _ = self.unpack(theta)
        dw1, db1, dw2, db2 = self.unpack(u)
        ew1, eb1, ew2, eb2 = self.unpack(v)
        a, s = self.forward(theta, x, np)
        p = _softmax(s)
        sech2 = 1 - a**2
        # first-order quantities of hvp(θ, u)
        z_u = x @ dw1.T + db1
        r_a = sech2 * z_u
        r_s = r_a @ w2.T + a @ dw2.T + db2
        m = (p * r_s).sum(1, keepdims=True)
        r_gs = k / n * p * (r_s - m)
        g_s = (k * p - t) / n
        g_a = g_s @ w2
        r_ga = r_gs @ w2 + g_s @ dw2
        # their derivatives along v
        a_ = sech2 * (x @ ew1.T + eb1)
        s_ = a_ @ w2.T + a @ ew2.T + eb2
        p_ = p * (s_ - (p * s_).sum(1, keepdims=True))
        g_s_ = k / n * p_
        r_a_ = -2 * a * a_ * z_u
        r_s_ = r_a_ @ w2.T + r_a @ ew2.T + a_ @ dw2.T
        m_ = (p_ * r_s + p * r_s_).sum(1, keepdims=True)
        r_gs_ = k / n * (p_ * (r_s - m) + p * (r_s_ - m_))
        g_a_ = g_s_ @ w2 + g_s @ ew2
        r_ga_ = r_gs_ @ w2 + r_gs @ ew2 + g_s_ @ dw2
        r_gz_ = (
            r_ga_ * sech2 - 2 * r_ga * a * a_
            - 2 * (g_a_ * a * r_a + g_a * a_ * r_a + g_a * a * r_a_)
        )  # fmt: skip
        return np.concatenate([
            (r_gz_.T @ x).ravel(), r_gz_.sum(0), (r_gs_.T @ a + r_gs.T @ a_ + g_s_.T @ r_a + g_s.T @ r_a_).ravel(),
            r_gs_.sum(0),
        ])  # fmt: skip

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Arg-max class of each row."""
        return self.forward(np.asarray(theta), x, np)[1].argmax(axis=1)
