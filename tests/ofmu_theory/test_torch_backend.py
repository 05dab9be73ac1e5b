"""The torch backend's fused paths equal its generic ones; the CPU allocator switch."""

from __future__ import annotations

import math
import platform
import sys

import pytest
import torch

from ofmu_theory.allocator import keep_freed_memory
from ofmu_theory.backends import get_backend
from ofmu_theory.backends.base import Backend

B = get_backend("torch")


def _vec(seed: int, dtype=torch.float32, positive: bool = False) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    out = tuple(torch.randn(shape, generator=g, dtype=dtype) for shape in ((7, 5), (11,), (3, 2, 4)))
    return tuple(t.abs() for t in out) if positive else out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_adam_step_is_bitwise_the_generic_sequence(dtype) -> None:
    g, m, v = _vec(0, dtype), _vec(1, dtype), _vec(2, dtype, positive=True)
    fused = B.adam_step(g, m, v, b1=0.9, b2=0.999, eps=1e-8, count=3)
    generic = Backend.adam_step(B, g, m, v, b1=0.9, b2=0.999, eps=1e-8, count=3)
    for a_vec, b_vec in zip(fused, generic, strict=True):
        for a, b in zip(a_vec, b_vec, strict=True):
            assert torch.equal(a, b)
    assert all(torch.equal(a, b) for a, b in zip(m, _vec(1, dtype)))  # inputs untouched


def test_adam_step_keeps_the_graph_when_asked() -> None:
    g = tuple(t.requires_grad_(True) for t in _vec(0, torch.float64))
    u, _, _ = B.adam_step(g, _vec(1, torch.float64), _vec(2, torch.float64, positive=True), b1=0.9, b2=0.999,
                          eps=1e-8, count=1)
    assert all(t.requires_grad for t in u)


def test_reductions_and_elementwise_match_per_tensor_arithmetic() -> None:
    x, y = _vec(3, torch.float64), _vec(4, torch.float64, positive=True)
    flat_x, flat_y = torch.cat([t.reshape(-1) for t in x]), torch.cat([t.reshape(-1) for t in y])
    assert float(B.vdot(x, y)) == pytest.approx(float(flat_x @ flat_y), rel=1e-14)
    assert float(B.norm(x)) == pytest.approx(float(flat_x.norm()), rel=1e-14)
    for got, want in ((B.mul(x, y), [a * b for a, b in zip(x, y)]), (B.div(x, y), [a / b for a, b in zip(x, y)]),
                      (B.sqrt_plus(y, 0.5), [t.sqrt() + 0.5 for t in y])):
        assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_isfinite_finds_one_bad_entry(bad) -> None:
    x = _vec(5)
    assert B.isfinite(x)
    x[2][1, 1, 3] = bad
    assert not B.isfinite(x)


def test_isfinite_on_finite_entries_whose_norm_overflows() -> None:
    x = (torch.full((4,), 3e38, dtype=torch.float32),)  # finite, but ‖x‖² overflows float32
    assert B.isfinite(x)


def test_allocator_switch_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("OFMU_MALLOC_DEFAULTS", "1")
    assert keep_freed_memory() is False
    monkeypatch.delenv("OFMU_MALLOC_DEFAULTS")
    assert isinstance(keep_freed_memory(), bool)  # True on glibc Linux, False elsewhere


def test_axpby_matches_the_formula() -> None:
    x, y = _vec(6, torch.float64), _vec(7, torch.float64)
    for got, want in zip(B.axpby(0.3, x, -1.7, y), [0.3 * a - 1.7 * b for a, b in zip(x, y)], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-15, atol=0)


def test_every_oracle_passes_through_reduce() -> None:
    """``reduce`` (the all-reduce of data parallelism) is applied to each value, gradient and product."""
    from ofmu_theory import TorchObjective

    def loss(params, batch):
        (x,) = params
        return (x**4).sum() + x[0] * x[1]

    def triple(out):
        return tuple(3.0 * t for t in out) if isinstance(out, tuple) else 3.0 * out

    plain, reduced = TorchObjective(loss), TorchObjective(loss, reduce=triple)
    theta, u, v = ((torch.tensor(x, dtype=torch.float64),) for x in ([0.3, -1.2, 0.7], [1.0, 0.5, -2.0], [-0.4, 2.0, 1.0]))
    pairs = [
        (plain.value(theta), reduced.value(theta)),
        (plain.value_and_grad(theta)[0], reduced.value_and_grad(theta)[0]),
        (plain.value_and_grad(theta)[1][0], reduced.value_and_grad(theta)[1][0]),
        (plain.hvp(theta, v)[0], reduced.hvp(theta, v)[0]),
        (plain.hvp_fwd_rev(theta, v)[0], reduced.hvp_fwd_rev(theta, v)[0]),
        (plain.d3(theta, u, v)[0], reduced.d3(theta, u, v)[0]),
    ]
    for one, three in pairs:
        torch.testing.assert_close(three, 3.0 * one, rtol=1e-14, atol=0.0)


def test_norm_and_vdot_are_differentiable_through_a_graph() -> None:
    """B.norm is differentiable when its input needs a graph: ∇‖x‖ = x/‖x‖."""
    x = tuple(t.double().requires_grad_(True) for t in _vec(3))
    grads = torch.autograd.grad(B.norm(x), x)
    n = math.sqrt(sum(float((t.detach() ** 2).sum()) for t in x))
    for g, t in zip(grads, x, strict=True):
        torch.testing.assert_close(g, t.detach() / n)


def test_module_params_select_by_name_and_reject_unknown_names() -> None:
    from ofmu_theory.modules import ModuleParams

    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    assert ModuleParams.of(model).names == ("0.weight", "0.bias", "1.weight", "1.bias")
    assert ModuleParams.of(model, ["1.bias"]).names == ("1.bias",)
    with pytest.raises(ValueError, match=r"no parameters named \['2.weight'\]"):
        ModuleParams.of(model, ["0.bias", "2.weight"])
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        ModuleParams.of(model)


def test_scale_is_differentiable_in_the_scalar_and_the_vector() -> None:
    """∂/∂α Σ(αx) = Σx and ∂/∂x = α, for a plain α and for an α that is itself on a graph."""
    x = _vec(6, torch.float64)
    alpha = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (d_alpha,) = torch.autograd.grad(sum(t.sum() for t in B.scale(alpha, x)), alpha)
    assert float(d_alpha) == pytest.approx(sum(float(t.sum()) for t in x), rel=1e-12)
    xg = tuple(t.clone().requires_grad_(True) for t in x)
    grads = torch.autograd.grad(sum(t.sum() for t in B.scale(0.7, xg)), xg)
    assert all(torch.allclose(g, torch.full_like(g, 0.7)) for g in grads)


@pytest.mark.parametrize("bad", [(), [1.0, 2.0], "theta", (torch.zeros(2), 1.0)])
def test_validate_refuses_what_is_not_a_non_empty_sequence_of_tensors(bad) -> None:
    with pytest.raises(TypeError, match=r"^theta0 must be a tensor or a non-empty sequence of tensors for the torch"):
        B.validate(bad, name="theta0")


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_allocator_switch_applies_on_glibc(monkeypatch) -> None:
    monkeypatch.delenv("OFMU_MALLOC_DEFAULTS", raising=False)
    assert keep_freed_memory() is True


def test_allocator_switch_sets_glibcs_mmap_and_trim_thresholds(monkeypatch) -> None:
    """mallopt(M_MMAP_THRESHOLD = −3, min(t, 32 MiB)) and mallopt(M_TRIM_THRESHOLD = −1, t) (glibc's malloc.h)."""
    import ctypes

    calls: list[tuple[int, int]] = []

    class FakeLibc:
        def __init__(self, name: str) -> None:
            self.name = name

        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    monkeypatch.delenv("OFMU_MALLOC_DEFAULTS", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libc.so.6" if name == "c" else None)
    monkeypatch.setattr(ctypes, "CDLL", FakeLibc)
    assert keep_freed_memory(1 << 30) is True
    assert sorted(calls) == [(-3, 32 << 20), (-1, 1 << 30)]
    calls.clear()
    assert keep_freed_memory(1 << 20) is True
    assert sorted(calls) == [(-3, 1 << 20), (-1, 1 << 20)]
    monkeypatch.setattr(ctypes, "CDLL", lambda name: object())  # a C library without mallopt: not glibc
    assert keep_freed_memory() is False


def test_module_loss_runs_the_module_with_theta_substituted() -> None:
    from ofmu_theory.modules import ModuleParams

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1).double()
    params = ModuleParams.of(model)
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64)
    loss = params.loss(lambda forward, batch: ((forward(batch[0]) - batch[1]) ** 2).mean())
    with torch.no_grad():
        assert float(loss(params.vector(), (x, y))) == pytest.approx(float(((model(x) - y) ** 2).mean()), rel=1e-14)
    zeros = tuple(torch.zeros_like(t) for t in params.vector())
    assert float(loss(zeros, (x, y))) == pytest.approx(float((y**2).mean()), rel=1e-14)


def test_third_order_product_of_a_cubic_and_the_fwd_rev_hvp() -> None:
    """L(θ) = Σθ³/6 + Σθ²: D³L[u, v, ·] = u⊙v, and the forward-over-reverse HVP ∇²L v = (θ + 2)⊙v holds no graph."""
    from ofmu_theory.objectives import TorchObjective

    obj = TorchObjective(lambda p, batch: sum((t**3).sum() / 6 + (t**2).sum() for t in p))
    theta, u, v = _vec(7, torch.float64), _vec(8, torch.float64), _vec(9, torch.float64)
    for got, a, b in zip(obj.d3(theta, u, v), u, v, strict=True):
        torch.testing.assert_close(got, a * b)
    hv = obj.hvp_fwd_rev(theta, v)
    for got, t, b in zip(hv, theta, v, strict=True):
        torch.testing.assert_close(got, (t + 2) * b)
        assert not got.requires_grad


def test_second_and_third_order_products_of_a_loss_linear_in_one_tensor_are_zero_there() -> None:
    """L = Σ 2θ₀ + Σ θ₁²: ∇L₀ = 2 has no graph (autograd refuses to differentiate it), so ∇²L v = (0, 2v₁) and
    D³L = 0 — also when every tensor enters linearly."""
    from ofmu_theory.objectives import TorchObjective

    theta, u, v = _vec(3, torch.float64), _vec(4, torch.float64), _vec(5, torch.float64)
    mixed = TorchObjective(lambda p, batch: (2 * p[0]).sum() + (p[1] ** 2).sum())
    hv = mixed.hvp(theta, v)
    torch.testing.assert_close(hv[0], torch.zeros_like(v[0]))
    torch.testing.assert_close(hv[1], 2 * v[1])
    linear = TorchObjective(lambda p, batch: sum((2 * t).sum() for t in p))
    for got in (*linear.hvp(theta, v), *linear.hvp(theta, v, create_graph=True), *linear.d3(theta, u, v),
                *mixed.d3(theta, u, v)):
        assert torch.count_nonzero(got) == 0


def test_the_fwd_rev_hvp_takes_the_gradient_without_a_graph_of_it() -> None:
    """Forward-over-reverse keeps a gradient's memory plus the tangents: once the loss is computed, the
    reverse pass through it saves nothing for a further backward pass (the exact HVP, which needs a graph
    of ∇L, does: the probe sees a graph where there is one)."""
    from ofmu_theory.objectives import TorchObjective

    after_loss: list[bool] = []

    def loss(p, batch):
        after_loss.clear()
        out = sum((torch.tanh(t) ** 3).sum() + (t * t.exp()).sum() for t in p)
        after_loss.append(True)
        return out

    def saved_after_loss(fn) -> int:
        count = [0]

        def pack(t):
            count[0] += bool(after_loss)
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn()
        return count[0]

    obj = TorchObjective(loss)
    theta, v = _vec(3, torch.float64), _vec(4, torch.float64)
    assert saved_after_loss(lambda: obj.hvp(theta, v)) > 0
    assert saved_after_loss(lambda: obj.hvp_fwd_rev(theta, v)) == 0
    for got, want in zip(obj.hvp_fwd_rev(theta, v), obj.hvp(theta, v), strict=True):
        torch.testing.assert_close(got, want)


def test_array_like_data_moves_to_torch_like_arrays() -> None:
    """Shared constants given as a list or a Python float become float64 tensors, as arrays do."""
    import numpy as np

    from ofmu_theory.objectives import ArrayObjective

    obj = ArrayObjective(value=lambda th, D, xp: D["s"] * ((th - D["c"]) ** 2).sum(),
                         grad=lambda th, D: 2 * D["s"] * (th - np.asarray(D["c"])),
                         hvp=lambda th, v, D: 2 * D["s"] * v, data={"c": [1.0, 2.0], "s": 0.5})
    theta = (torch.tensor([0.0, 0.0], dtype=torch.float64),)
    assert float(obj.to("torch").value(theta)) == pytest.approx(2.5, rel=1e-15)
    assert float(obj.to("numpy").value(np.zeros(2))) == pytest.approx(2.5, rel=1e-15)
