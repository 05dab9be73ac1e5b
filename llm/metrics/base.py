"""Metric results and the metric registry.

A metric is a registered keyword-only function returning a :class:`MetricResult`: the aggregate
(``agg_value``) and the per-item values (``value_by_index``, keyed by the item's index in its
split), exactly the two keys OpenUnlearning writes per metric in ``TOFU_EVAL.json``. Each entry
declares the inputs it needs; calling it through the registry checks they are present.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ofmu_theory.registry import Registry, first_sentence

F = TypeVar("F", bound=Callable[..., "MetricResult"])


def _plain(value: Any) -> Any:
    """numpy scalars / arrays and nested results to plain Python values."""
    if isinstance(value, MetricResult):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class MetricResult:
    """What a metric returns.

    Attributes:
        agg_value: the aggregate (None, written as null, only for OpenUnlearning-compatible forget quality
            without a retain log).
        value_by_index: per-item values ``{index: {stat: value}}`` (None for aggregate-only metrics
            such as forget quality, model utility and privleak).
        extra: further top-level entries in OpenUnlearning's layout (MIA: ``forget``, ``holdout``, ``auc``).
    """

    agg_value: float | None
    value_by_index: Mapping[int, Mapping[str, Any]] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}))

    def values(self, stat: str) -> np.ndarray:
        """The per-item values of ``stat`` in index order, as an array (lists become rows)."""
        if not self.value_by_index:
            raise ValueError(f"this result has no per-item values (asked for {stat!r})")
        rows = []
        for index in sorted(self.value_by_index):
            entry = self.value_by_index[index]
            if stat not in entry:
                raise ValueError(f"item {index} has no {stat!r}; available: {sorted(entry)}")
            rows.append(entry[stat])
        return np.asarray(rows, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """OpenUnlearning's layout: extra entries, then ``agg_value`` and ``value_by_index`` (string keys)."""
        out = {key: _plain(value) for key, value in self.extra.items()}
        out["agg_value"] = _plain(self.agg_value)
        if self.value_by_index is not None:
            out["value_by_index"] = {str(k): _plain(v) for k, v in self.value_by_index.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "metric") -> MetricResult:
        """Read one metric entry of an OpenUnlearning ``TOFU_EVAL.json``."""
        if not isinstance(data, Mapping) or "agg_value" not in data:
            raise ValueError(f"{name} entry must be an object with 'agg_value', got {type(data).__name__}")
        agg = data["agg_value"]
        if agg is None:
            raise ValueError(f"{name} has agg_value null (it was not computed in that run)")
        by_index = data.get("value_by_index")
        parsed = None
        if by_index is not None:
            try:
                parsed = {int(k): dict(v) if isinstance(v, Mapping) else v for k, v in by_index.items()}
            except (TypeError, ValueError):
                raise ValueError(f"{name} value_by_index keys must be item indices") from None
        extra = {}
        for key, value in data.items():
            if key in ("agg_value", "value_by_index"):
                continue
            is_result = isinstance(value, Mapping) and "agg_value" in value
            extra[key] = cls.from_dict(value, name=f"{name}.{key}") if is_result else value
        return cls(agg_value=float(agg), value_by_index=parsed, extra=types.MappingProxyType(extra))


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    """A registered metric: the function and the keyword inputs it needs."""

    name: str
    fn: Callable[..., MetricResult]
    needs: tuple[str, ...]

    def __call__(self, **inputs: Any) -> MetricResult:
        missing = [n for n in self.needs if inputs.get(n) is None]
        if missing:
            raise ValueError(f"metric {self.name!r} needs {missing} (declared inputs: {list(self.needs)})")
        return self.fn(**inputs)


METRICS: Registry[MetricSpec] = Registry("metric")


def metric(name: str, *, needs: tuple[str, ...]) -> Callable[[F], F]:
    """Register a metric function under ``name`` with its required inputs; the function is returned unchanged."""

    def decorate(fn: F) -> F:
        METRICS.register(name, summary=first_sentence(fn.__doc__))(MetricSpec(name=name, fn=fn, needs=needs))
        return fn

    return decorate
