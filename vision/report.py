"""Bench outputs: a Markdown table, a JSON record of every number and a plot, written atomically.

``write_report(result, out_dir)`` writes ``bench.md``, ``bench.json`` and ``bench.png`` into
``out_dir``. The JSON holds every row (all metrics, status, wall time, time ratio, hyper-parameters),
the bench config, the dataset sizes and ``ofmu_theory.runinfo.run_metadata`` (seed, versions,
devices, argv). The plot shows Avg. Gap against the time ratio to Retrain for each method, one panel
per forgetting mode (diverged and failed methods are left out; the Markdown table lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ofmu_theory.io import save_figure, to_jsonable, write_json, write_text
from ofmu_theory.runinfo import run_metadata
from vision.bench import BenchResult, ModeResult, Row

#: The OFMU target of the benchmark script: Avg. Gap ≤ 1.5 points in ≤ 1/5 of Retrain's time.
TARGET_GAP = 1.5
TARGET_TIME_RATIO = 0.2

FILES = ("bench.md", "bench.json", "bench.png")
_METRICS = (("ua", "UA"), ("ra", "RA"), ("ta", "TA"), ("mia_efficacy", "MIA-Eff."))


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """OFMU against the target: its numbers, and the margins (negative = met with room to spare)."""

    avg_gap: float | None
    time_ratio: float | None
    gap_excess: float | None
    time_excess: float | None
    met: bool

    def sentence(self) -> str:
        if self.avg_gap is None or self.time_ratio is None:
            return "OFMU did not produce a result (diverged or failed): the target is missed."
        gap = (f"Avg. Gap {self.avg_gap:.2f} ≤ {TARGET_GAP}: met" if self.gap_excess <= 0
               else f"Avg. Gap {self.avg_gap:.2f} > {TARGET_GAP}: missed by {self.gap_excess:.2f} points")
        time = (f"time {self.time_ratio:.3f} × Retrain ≤ {TARGET_TIME_RATIO}: met" if self.time_excess <= 0
                else f"time {self.time_ratio:.3f} × Retrain > {TARGET_TIME_RATIO}: missed by "
                     f"{self.time_excess:.3f} × Retrain")
        return f"OFMU {'MEETS' if self.met else 'MISSES'} the target — {gap}; {time}."


def verdict(mode: ModeResult) -> Verdict:
    """OFMU's row of ``mode`` against the target."""
    row = mode.row("ofmu")
    if row.status != "OK" or row.avg_gap is None or row.time_ratio is None:
        return Verdict(avg_gap=None, time_ratio=None, gap_excess=None, time_excess=None, met=False)
    gap_excess, time_excess = row.avg_gap - TARGET_GAP, row.time_ratio - TARGET_TIME_RATIO
    return Verdict(avg_gap=row.avg_gap, time_ratio=row.time_ratio, gap_excess=gap_excess, time_excess=time_excess,
                   met=gap_excess <= 0 and time_excess <= 0)


def _num(x: float | None, digits: int = 2) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def mode_table(mode: ModeResult) -> str:
    """The Markdown table of one mode: one line per method."""
    head = ["Method", "Status", *[label for _, label in _METRICS], "Avg. Gap", "Time (s)", "Time / Retrain"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for row in mode.rows:
        m = row.metrics or {}
        status = {"OK": "ok", "DIVERGED": "diverged", "FAILED": "failed"}[row.status]
        cells = [row.method, status, *[_num(m.get(key)) for key, _ in _METRICS], _num(row.avg_gap),
                 _num(row.wall_s, 1), _num(row.time_ratio, 3)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _width(model: str, width: int | None) -> int:
    import inspect

    from vision.models import MODELS

    return width if width is not None else inspect.signature(MODELS.get(model)).parameters["width"].default


def markdown(result: BenchResult) -> str:
    """The whole report as Markdown (header, one table per mode, notes on failures)."""
    cfg, data = result.config, result.dataset
    out = [
        "# Vision unlearning bench",
        "",
        f"Dataset **{data['name']}** ({data['n_train']} train / {data['n_test']} test images), model "
        f"**{cfg.train.model}** (width {_width(cfg.train.model, cfg.train.width)}), seed {cfg.seed}; "
        f"Original and Retrain: {cfg.train.epochs} epochs, batch {cfg.train.batch_size}, lr {cfg.train.lr} "
        f"(cosine), momentum {cfg.train.momentum}, weight decay {cfg.train.weight_decay}. "
        f"Total wall time {result.wall_s:.0f} s "
        f"({'torch default' if cfg.threads is None else cfg.threads} CPU thread(s)"
        f"{', Retrain trained in this run' if cfg.fresh_retrain or not cfg.cache else ''}).",
        "",
        "UA = 100 − acc(D_f), RA = acc(D_r), TA = acc(test), MIA-Eff. = share of D_f the confidence SVC calls "
        "non-member (all %). Avg. Gap = mean |metric − Retrain's| over the four. Time / Retrain = the method's "
        "wall time over Retrain's training time (the Original row is doing nothing).",
    ]
    if result.fallback:
        out += ["", f"**Note:** {result.fallback}."]
    for mode in result.modes:
        split = mode.split
        what = (f"random {cfg.forget_fraction:.0%} of D" if mode.mode == "random"
                else f"class {split['forget_class']}")
        out += ["", f"## {mode.mode} forgetting ({what}: |D_f| = {split['n_forget']}, |D_r| = {split['n_retain']}, "
                f"|test| = {split['n_test']})", "", mode_table(mode)]
        notes = [f"- {r.method}: {r.status.lower()} — {r.message}" for r in mode.rows if r.status != "OK"]
        if notes:
            out += ["", *notes]
        if mode.mode == "random" and any(r.method == "ofmu" for r in mode.rows):
            out += ["", f"Target (OFMU's Avg. Gap ≤ {TARGET_GAP} in ≤ {TARGET_TIME_RATIO:g} × Retrain's time, random "
                    f"forgetting): {verdict(mode).sentence()}"]
    out += ["", "## Method settings (as run)", "", "| Method | hyper-parameters |", "|---|---|"]
    seen: set[str] = set()
    for mode in result.modes:
        for r in mode.rows:
            if r.config and r.method not in seen:
                seen.add(r.method)
                settings = ", ".join(f"{k}={v}" for k, v in r.config.items() if k != "method")
                out.append(f"| {r.method} | {settings} |")
    return "\n".join(out) + "\n"


def record(result: BenchResult) -> dict[str, Any]:
    """Everything as a JSON-ready dict."""
    return to_jsonable({
        "format": "ofmu-vision-bench/1",
        "dataset": result.dataset,
        "fallback": result.fallback,
        "wall_s": result.wall_s,
        "modes": [m.to_dict() for m in result.modes],
        "target": {"avg_gap": TARGET_GAP, "time_ratio": TARGET_TIME_RATIO},
        **run_metadata(seed=result.config.seed, config=result.config.to_dict()),
    })


def result_from_record(rec: dict[str, Any]) -> BenchResult:
    """The :class:`BenchResult` a ``bench.json`` (from :func:`record`) was written from."""
    from vision.bench import BenchConfig, ModeResult
    from vision.train import TrainConfig

    if rec.get("format") != "ofmu-vision-bench/1":
        raise ValueError(f"not a vision bench record (format {rec.get('format')!r}, expected 'ofmu-vision-bench/1')")
    cfg = dict(rec["config"])
    config = BenchConfig(**{**cfg, "train": TrainConfig(**cfg["train"]), "modes": tuple(cfg["modes"]),
                            "methods": tuple(cfg["methods"])})
    modes = tuple(
        ModeResult(mode=m["mode"], split=m["split"], rows=tuple(Row(**r) for r in m["rows"])) for m in rec["modes"]
    )
    return BenchResult(config=config, dataset=rec["dataset"], fallback=rec["fallback"], modes=modes,
                       wall_s=float(rec["wall_s"]))


def _plottable(rows: tuple[Row, ...]) -> list[Row]:
    return [r for r in rows if r.status == "OK" and r.avg_gap is not None and r.time_ratio is not None]


def plot(result: BenchResult) -> Any:
    """A matplotlib figure: Avg. Gap vs time ratio to Retrain, one panel per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, axes = plt.subplots(1, len(result.modes), figsize=(5.5 * len(result.modes), 4.2), squeeze=False)
    for ax, mode in zip(axes[0], result.modes, strict=True):
        ax.axvspan(0, TARGET_TIME_RATIO, ymax=1, color="tab:green", alpha=0.06)
        ax.axhline(TARGET_GAP, color="tab:green", lw=0.8, ls="--", label=f"target gap ≤ {TARGET_GAP}")
        ax.axvline(TARGET_TIME_RATIO, color="tab:green", lw=0.8, ls=":",
                   label=f"time ≤ {TARGET_TIME_RATIO:g}× Retrain")
        original = mode.row("original")
        if original.avg_gap is not None:
            ax.axhline(original.avg_gap, color="grey", lw=0.8, ls="-.", label="Original (no unlearning)")
        for r in _plottable(mode.rows):
            if r.method == "retrain":
                continue
            colour = "tab:red" if r.method == "ofmu" else "tab:blue"
            ax.scatter(r.time_ratio, r.avg_gap, color=colour, zorder=3)
            ax.annotate(r.method, (r.time_ratio, r.avg_gap), textcoords="offset points", xytext=(4, 3), fontsize=8)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("wall time / Retrain's")
        ax.set_ylabel("Avg. Gap to Retrain (points)")
        ax.set_title(f"{mode.mode} forgetting")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{result.dataset['name']}: unlearning quality vs cost (lower left is better)")
    fig.tight_layout()
    return fig


def write_report(result: BenchResult, out_dir: str | Path, *, rec: dict[str, Any] | None = None) -> list[Path]:
    """Write ``bench.md``, ``bench.json`` and ``bench.png`` into ``out_dir`` (each atomically); returns the paths.

    ``rec`` is the JSON record to write (default: :func:`record` of ``result``; pass the original one
    when re-rendering a saved run, so that its run metadata is kept).
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in FILES]
    write_text(paths[0], markdown(result))
    write_json(paths[1], record(result) if rec is None else rec)
    fig = plot(result)
    try:
        save_figure(paths[2], fig)
    finally:
        plt.close(fig)
    return paths
