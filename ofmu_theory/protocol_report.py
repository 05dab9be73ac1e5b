"""How the benches' reports write a :func:`~ofmu_theory.protocol.run_protocol` record: intervals, tables,
sentences and plot styles, shared by llm/ and vision/ so every report reads the same."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def runs_sentence(record: Mapping[str, Any]) -> str:
    """How a protocol record's runs were obtained: executed (by how many workers at once) and read from the cache."""
    runs = record["runs"]
    jobs = int(runs.get("jobs", 1))
    how = ("one at a time" if jobs == 1 else
           f"by {jobs} worker processes at once, so their wall times include the workers' contention for the cores")
    text = f"{runs['executed']} runs executed {how}, {runs['from_cache']} read from the run cache"
    history = record.get("invocations", [])
    if len(history) > 1:
        text += ("; every invocation of this folder: " + ", ".join(
            f"{h['wall_s']:.0f} s ({h['executed']} executed, {h.get('jobs', 1)} worker(s))" for h in history)
            + f", {sum(h['wall_s'] for h in history):.0f} s in all")
    return text


def format_interval(summary: Mapping[str, Any], key: str, digits: str) -> str:
    """``mean [low, high]`` of one metric of a :func:`summarise` result ("–" when absent)."""
    v = summary.get(key)
    if v is None:
        return "–"
    span = "" if math.isnan(v["low"]) else f" [{v['low']:{digits}}, {v['high']:{digits}}]"
    return f"{v['mean']:{digits}}{span}"


def level_table(level: Mapping[str, Any], columns: Sequence[tuple[str, str, str]], *,
                per_seed: tuple[str, str, str]) -> str:
    """One budget level as a Markdown table: a row per method with the mean [95 % interval] of each
    ``(header, summary key, format)`` column, the per-seed values of ``per_seed`` ``(header, key, format)``
    and the chosen configuration."""
    header = ["method", *(c[0] for c in columns), per_seed[0], "chosen config"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in level["methods"].items():
        s = row["summary"]
        seeds = ", ".join("–" if per_seed[1] not in r else f"{r[per_seed[1]]:{per_seed[2]}}" for r in row["per_seed"])
        cells = [format_interval(s, key, digits) for _, key, digits in columns]
        lines.append("| " + " | ".join([name, *cells, seeds, format_config(row["tuning"]["chosen"])]) + " |")
    return "\n".join(lines) + "\n"


def time_to_quality_table(record: Mapping[str, Any]) -> list[str]:
    """The time-to-quality table of a protocol record (Markdown lines)."""
    lines = ["| method | budget | passes | wall s |", "|---|---|---|---|"]
    for name, hit in record["time_to_quality"].items():
        lines.append(f"| {name} | – (not reached) | – | – |" if hit is None else
                     f"| {name} | {hit['budget_multiple']:g}x | {hit['passes']:.0f} | {hit['wall_s']:.1f} |")
    return lines


def format_config(config: Mapping[str, Any]) -> str:
    """``key=value, ...`` of a configuration (floats in ``g`` format)."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())


def verdict_sentence(verdict: Mapping[str, Any], *, baseline_rule: str, metric_label: str | None = None,
                     digits: str = ".3f", with_reason: bool = True) -> str:
    """One budget level's verdict (a :func:`run_protocol` level's ``verdict``) as a Markdown sentence.

    Args:
        baseline_rule: how the best baseline was chosen, e.g. "the best feasible baseline".
        metric_label: the metric's name in the text (default: the verdict's metric key).
        digits: format of the paired difference and its interval.
        with_reason: end with the verdict rule's reason.
    """
    v = verdict
    if v.get("best_baseline") is None or "comparison" not in v:
        return f"**{v['result']}** ({v['reason']})."
    c, d = v["comparison"], v["comparison"]["diff"]
    label = metric_label or v["metric"]
    better = "higher" if v["higher_is_better"] else "lower"
    text = (f"OFMU vs {v['best_baseline']} ({baseline_rule} on mean {label}): **{v['result']}** — mean paired "
            f"difference {d['mean']:+{digits}} [{d['low']:+{digits}}, {d['high']:+{digits}}] ({label}, {better} is "
            f"better), p = {c['p_value']:.3g} ({c['test']}), P(OFMU better) = {c['prob_improvement']:.2f} over "
            f"{d['n']} seeds")
    return text + (f"; {v['reason']}." if with_reason else ".")


#: Baselines' colours and markers in the plots (cycled); OFMU is the red star.
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive",
            "tab:cyan")
_MARKERS = "osD^v<>ph"


def point_style(i: int, name: str) -> dict[str, Any]:
    """The i-th method's errorbar style: a colour and marker of its own, so the legend names every point."""
    if name == "ofmu":
        return {"fmt": "*", "color": "tab:red", "markersize": 11}
    return {"fmt": _MARKERS[i % len(_MARKERS)], "color": _COLOURS[i % len(_COLOURS)], "markersize": 6}



def interval_point(ax: Any, i: int, name: str, x: Mapping[str, float], y: Mapping[str, float], *,
                   x_floor: float | None = None) -> None:
    """One method's point on a benches' plot: the means of ``x`` and ``y`` (summaries with ``mean``, ``low``,
    ``high``) with their 95 % intervals as error bars (none where an interval is NaN: fewer than two seeds),
    styled by :func:`point_style`. ``x_floor`` keeps a log x axis finite: the point and its lower bar stop there."""
    def bar(s: Mapping[str, float], at: float, floor: float | None) -> list[list[float]] | None:
        if math.isnan(s["low"]):
            return None
        low = s["low"] if floor is None else max(s["low"], floor)
        return [[max(at - low, 0.0)], [max(s["high"] - at, 0.0)]]

    px = x["mean"] if x_floor is None else max(x["mean"], x_floor)
    ax.errorbar([px], [y["mean"]], xerr=bar(x, px, x_floor), yerr=bar(y, y["mean"], None), capsize=3, label=name,
                **point_style(i, name))
