"""``bench --profile single``: every chosen method once with its preset on one entry, evaluated, tabulated, plotted.

This is a smoke run, not a fair comparison (no tuning, one seed, equal epochs rather than equal passes):
the default ``ofmu llm bench`` runs the protocol of :mod:`llm.fairbench` instead.

Each method starts from the same target model, with the same seed, the same number of epochs over D_f
and the same batch sizes (``BenchConfig.epochs`` / ``batch_size``); its learning rate and own
hyper-parameters come from its preset (``"embedded"`` for the embedded model, ``"openunlearning"``
otherwise) and the per-method overrides. The target ("finetuned") and retain models are reference
rows. For every method the run is timed (task build + core run) and its peak memory measured
(:class:`llm.memory.PeakMemory`). Output folder (every file written atomically)::

    bench.json        rows, config, prepared entry, run metadata
    bench.md          the Markdown table
    fq_vs_mu.png      forget quality (log axis) against model utility
    <method>/result.json, <method>/eval/TOFU_*.json
"""

from __future__ import annotations

import gc
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from llm.lora import LoraOptions
from llm.memory import PeakMemory
from llm.methods import METHODS, bench_order
from llm.prepare import Prepared, evaluate_model
from llm.prompts import PROMPTS
from llm.runtime import resolve_device
from llm.unlearn import RunSettings, unlearn
from ofmu_theory.io import save_figure, to_jsonable, write_json, write_text
from ofmu_theory.runinfo import progress as progress_bar
from ofmu_theory.runinfo import run_metadata

logger = logging.getLogger(__name__)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("forget_quality", "FQ"), ("model_utility", "MU"), ("forget_truth_ratio", "forget TR"), ("privleak", "privleak"),
    ("forget_Q_A_ROUGE", "forget ROUGE"), ("wall_s", "wall s"), ("cpu_s", "CPU s"), ("peak_mib", "peak MiB"),
)


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """What the bench runs.

    Attributes:
        methods: registry names, in table order (default: every registered method in ``bench_order()``).
        epochs: passes over D_f for every method (None: each preset's own).
        batch_size: forget rows per step for every method (None: each preset's own).
        retain_batch_size: retain rows per step for every method (None: each preset's own).
        preset: ``"embedded"`` or ``"openunlearning"`` (None: ``embedded`` for the embedded model).
        overrides: per-method hyper-parameters, ``{"ofmu": {"beta": 0.2}}``.
        lora: run every method on LoRA adapters.
        max_retain_nll: the utility floor (None: off).
        seed: the run seed.
        device, bf16, gradient_checkpointing, attn_implementation: how the models run (see
            :class:`~llm.unlearn.RunSettings`).
    """

    methods: tuple[str, ...] = field(default_factory=bench_order)
    epochs: float | None = 5.0
    batch_size: int | None = 8
    retain_batch_size: int | None = 32
    preset: str | None = None
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lora: LoraOptions | None = None
    max_retain_nll: float | None = None
    seed: int = 0
    device: str | None = None
    bf16: bool = False
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("methods must name at least one method")
        for name in self.methods:
            METHODS.get(name)
        unknown = sorted(set(self.overrides) - set(self.methods))
        if unknown:
            raise ValueError(f"overrides name methods not in the bench: {unknown}")

    def method(self, name: str, *, embedded: bool) -> Any:
        """The configured method ``name`` (preset, then the shared budget, then its overrides)."""
        preset = self.preset or ("embedded" if embedded else "openunlearning")
        budget = {"epochs": self.epochs, "batch_size": self.batch_size, "retain_batch_size": self.retain_batch_size}
        values = {k: v for k, v in budget.items() if v is not None}
        values.update(self.overrides.get(name, {}))
        return METHODS.get(name).preset(preset, **values)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))


def summary_row(name: str, kind: str, summary: Mapping[str, float], **extra: Any) -> dict[str, Any]:
    """One table row: the TOFU aggregates the table shows plus ``extra`` (wall time, memory, status)."""
    row = {"name": name, "kind": kind}
    for key, _ in COLUMNS:
        if summary.get(key) is not None:  # None: forget quality without a reference (OpenUnlearning-compatible)
            row[key] = float(summary[key])
    row.update(extra)
    return row


def _fmt(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if key == "forget_quality":
        return f"{value:.3g}"
    if key in ("wall_s", "cpu_s", "peak_mib", "privleak"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The bench table in Markdown (FQ, MU, forget TR, privleak, forget ROUGE, wall time, peak memory, status)."""
    header = "| model | " + " | ".join(label for _, label in COLUMNS) + " | steps | status |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 3)]
    for row in rows:
        cells = [_fmt(key, row.get(key)) for key, _ in COLUMNS]
        steps = row.get("steps")
        lines.append(f"| {row['name']} | " + " | ".join(cells) + f" | {'–' if steps is None else steps} | "
                     f"{row.get('status', 'reference')} |")
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *, title: str = "") -> None:
    """Forget quality (log x) against model utility (y), one labelled point per row, written atomically."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    points: dict[tuple[float, float], list[Mapping[str, Any]]] = {}
    for row in rows:
        fq, mu = row.get("forget_quality"), row.get("model_utility")
        if fq is None or mu is None or not (math.isfinite(fq) and math.isfinite(mu)):
            continue
        points.setdefault((round(math.log10(max(fq, 1e-300)), 2), round(mu, 3)), []).append(row)
    for group in points.values():  # rows at the same point share one marker and one label
        fq, mu = max(group[0]["forget_quality"], 1e-300), group[0]["model_utility"]
        reference = group[0]["kind"] == "reference"
        names = [r["name"] for r in group]
        ax.scatter([fq], [mu], marker="s" if reference else "o", s=60 if reference else 45,
                   color="0.35" if reference else ("tab:red" if "ofmu" in names else "tab:blue"), zorder=3)
        ax.annotate(", ".join(names), (fq, mu), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("forget quality (KS p-value, log scale; higher is better)")
    ax.set_ylabel("model utility (higher is better)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    save_figure(path, fig)
    plt.close(fig)


def _reference_rows(prepared: Prepared) -> list[dict[str, Any]]:
    from llm.evaluate import read_eval_log  # noqa: PLC0415

    rows = []
    stages = prepared.info.get("stage_wall_s", {})
    cpu = prepared.info.get("stage_cpu_s", {})
    for which, log in (("target", prepared.target_eval), ("retain", prepared.retain_eval)):
        summary = {k: v["agg_value"] for k, v in read_eval_log(log).items()}
        if which == "retain":  # the reference against itself: identical samples and AUC (the log's own values
            summary.update(forget_quality=1.0, privleak=0.0)  # are absent, or null / vs AUC 0.5 with ou_compat)
        rows.append(summary_row(f"{which} (reference)", "reference", summary, wall_s=stages.get(which),
                                cpu_s=cpu.get(which)))
    return rows


def run_bench(prepared: Prepared, config: BenchConfig, out: str | os.PathLike[str], *, progress: bool = False,
              save_models: bool = False, prepare_s: float | None = None) -> dict[str, Any]:
    """Run the bench (see the module docstring) and write its files into ``out``; returns bench.json's content.

    Args:
        prepare_s: seconds the caller spent obtaining ``prepared`` (fine-tuning from an empty cache, or a
            cache hit), reported beside the bench's own wall time.
    """
    from llm.unlearn import save_unlearned  # noqa: PLC0415

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    model, tokenizer = prepared.load_model("target")
    device = resolve_device(config.device, model)
    template = PROMPTS.get(prepared.template)
    forget, retain = prepared.forget_retain()
    settings = RunSettings(seed=config.seed, lora=config.lora, max_length=prepared.config.max_length,
                           max_retain_nll=config.max_retain_nll, device=config.device, bf16=config.bf16,
                           gradient_checkpointing=config.gradient_checkpointing,
                           attn_implementation=config.attn_implementation)
    rows = _reference_rows(prepared)
    for name in progress_bar(config.methods, desc="bench", enabled=progress):
        method = config.method(name, embedded=prepared.config.embedded)
        logger.info("bench: %s %s", name, method.to_dict())
        with PeakMemory(device) as memory:
            t0, c0 = time.perf_counter(), time.process_time()
            done = unlearn(method, model=model, tokenizer=tokenizer, template=template, forget_items=forget,
                           retain_items=retain, settings=settings, progress=progress)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        folder = root / name
        meta = run_metadata(seed=config.seed, config=done.config)
        meta["devices"]["effective_batch_size"] = done.effective_batch_size
        meta["runtime"] = done.runtime
        write_json(folder / "result.json", {**done.record(), "peak_memory": memory.to_dict(), "metadata": meta})
        if done.diverged:
            rows.append(summary_row(name, "method", {}, wall_s=wall, cpu_s=cpu, peak_mib=memory.peak_mib,
                                    steps=done.result.nit, status="DIVERGED"))
            logger.error("bench: %s diverged; no evaluation", name)
            continue
        if save_models:
            save_unlearned(done, folder / "unlearned", tokenizer=tokenizer)
        evaluation = evaluate_model(prepared, _eval_model(done.model), tokenizer, folder / "eval",
                                    show_progress=progress)
        rows.append(summary_row(name, "method", evaluation.summary, wall_s=wall, cpu_s=cpu, peak_mib=memory.peak_mib,
                                steps=done.result.nit, status=done.status, config=done.config))
        logger.info("bench: %s FQ=%.3g MU=%.3f in %.1f s", name, rows[-1].get("forget_quality", float("nan")),
                    rows[-1].get("model_utility", float("nan")), wall)
        del done, evaluation
        gc.collect()
    report = {
        "rows": rows, "bench": config.to_dict(), "prepared": {"cache_entry": prepared.folder.name,
                                                             "config": prepared.config.to_dict(), "info": prepared.info},
        "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start, "prepare_s": prepare_s,
        "metadata": run_metadata(seed=config.seed, config=config.to_dict()),
    }
    write_outputs(report, root)
    return report


def _eval_model(model: Any) -> Any:
    from llm.lora import merged  # noqa: PLC0415

    return merged(model)


def title_of(report: Mapping[str, Any]) -> str:
    cfg = report["prepared"]["config"]
    bench = report["bench"]
    model = cfg["model"] + (f" {cfg.get('size', '')}" if cfg["model"] == "embedded" else "")
    return (f"{model} · {cfg['forget_split']} · {bench.get('epochs')} epochs, batch {bench.get('batch_size')}, "
            f"retain batch {bench.get('retain_batch_size')}" + (" · LoRA" if bench.get("lora") else ""))


def write_outputs(report: Mapping[str, Any], folder: str | os.PathLike[str]) -> None:
    """bench.json, bench.md and fq_vs_mu.png from a bench report (atomically)."""
    root = Path(folder)
    write_json(root / "bench.json", report)
    prep = report.get("prepare_s")
    spent = f"; prepare {prep:.1f} s" if prep is not None else ""
    head = (f"# LLM unlearning bench\n\n{title_of(report)}. Wall time: bench {report['wall_s']:.1f} s "
            f"(unlearning + evaluation){spent}.\n\n")
    write_text(root / "bench.md", head + markdown_table(report["rows"]))
    plot(report["rows"], root / "fq_vs_mu.png", title=title_of(report))


def set_threads(threads: int | None) -> None:
    """torch's intra-op threads (None: leave torch's default)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got threads={threads!r}")
        torch.set_num_threads(threads)
