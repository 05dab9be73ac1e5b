"""One figure per claim: the measured curves on log-log axes with the theoretical bound drawn dashed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ofmu_theory.io import save_figure
from proofs_checks.runner import ClaimRun

LINEAR_CLAIMS = ("C5",)
"""Claims whose y values are cosines (linear axes)."""
MAX_ROWS = 12


def claim_figure(run: ClaimRun, path: str | Path) -> bool:
    """Draw ``run``'s series (one row per instance, one column per panel); False when it has none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in run.results if r.series][:MAX_ROWS]
    if not rows:
        return False
    panels = []
    for r in rows:
        for s in r.series:
            if s.panel not in panels:
                panels.append(s.panel)
    linear = run.claim["id"] in LINEAR_CLAIMS
    fig, axes = plt.subplots(len(rows), len(panels), figsize=(4.2 * len(panels), 2.9 * len(rows)), squeeze=False)
    for i, result in enumerate(rows):
        for j, panel in enumerate(panels):
            ax = axes[i][j]
            drawn = False
            for n, s in enumerate(x for x in result.series if x.panel == panel):
                x, y = np.asarray(s.x), np.asarray(s.y)
                keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) & (x > 0) if not linear else True)
                if not keep.any():
                    continue
                color = f"C{n % 10}"
                ax.plot(x[keep], y[keep], "o-", ms=2.5, lw=1.2, color=color, label=s.label)
                if s.bound is not None:
                    b = np.asarray(s.bound)
                    kb = np.isfinite(b) & np.isfinite(x) & ((b > 0) & (x > 0) if not linear else True)
                    if kb.any():
                        ax.plot(x[kb], b[kb], "--", lw=1.0, color=color, alpha=0.8, label=s.bound_label)
                ax.set_xlabel(s.xlabel, fontsize=8)
                ax.set_ylabel(s.ylabel, fontsize=8)
                drawn = True
            if drawn and not linear:
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.minorticks_off()  # minor log ticks cost most of the drawing time
            if drawn:
                ax.legend(fontsize=6, loc="lower left" if not linear else "upper right", framealpha=0.6)
            else:
                ax.axis("off")
            ax.set_title(f"{result.family} — {panel} [{result.verdict.value}]", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle(f"{run.claim['id']}: {run.claim['title']}", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.04, top=1.0 - 0.35 / len(rows), hspace=0.55, wspace=0.3)
    save_figure(path, fig, dpi=80, bbox_inches=None)  # the layout is fixed: one draw, not two
    plt.close(fig)
    return True
