"""One figure per claim: the measured curves on log-log axes with the theoretical bound drawn dashed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ofmu_theory.io import save_figure
from proofs_checks.runner import ClaimRun

LINEAR_CLAIMS = ("C5",)
"""Claims whose y values are cosines (linear axes)."""
MAX_ROWS = 12
LEGEND_INSIDE = 4
"""Panels with more curves than this get their legend beside the axes, not over the curves."""
LEGEND_WIDTH = 2.6
"""Inches added to the figure's width for a legend beside the axes."""
Y_SPAN = 1e6
"""A log axis shows at most this factor above the largest starting value of its curves: a diverging curve leaves
through the top (and the panel says so) instead of stretching the axis to 1e100."""


def claim_figure(run: ClaimRun, path: str | Path) -> bool:
    """Draw ``run``'s series (one row per instance, one column per panel); False when it has none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in run.results if r.series][:MAX_ROWS]
    if not rows:
        return False
    own = [list(dict.fromkeys(s.panel for s in r.series)) for r in rows]
    # Rows with the same panels share columns; otherwise each row lays out its own panels (no empty grid cells).
    shared = all(p == own[0] for p in own)
    ncols = max(len(p) for p in own)
    linear = run.claim["id"] in LINEAR_CLAIMS
    beside = max(sum(1 for s in r.series if s.panel == p) for r, ps in zip(rows, own) for p in ps) > LEGEND_INSIDE
    panel_w = 4.2 + (LEGEND_WIDTH if beside else 0.0)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(panel_w * ncols, 2.9 * len(rows)), squeeze=False)
    for i, result in enumerate(rows):
        for j in range(len(own[i]), ncols):
            axes[i][j].set_axis_off()
        for j, panel in enumerate(own[0] if shared else own[i]):
            ax = axes[i][j]
            drawn = False
            starts, tops = [], []
            for n, s in enumerate(x for x in result.series if x.panel == panel):
                x, y = np.asarray(s.x), np.asarray(s.y)
                keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) & (x > 0) if not linear else True)
                if not keep.any():
                    continue
                starts.append(float(y[keep][0]))
                tops.append(float(y[keep].max()))
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
                cap = max(starts) * Y_SPAN
                if max(tops) > cap:
                    ax.set_ylim(top=cap)
                    ax.text(0.99, 0.97, "curves above the axis diverge", transform=ax.transAxes, ha="right",
                            va="top", fontsize=6)
            if drawn and beside:
                ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5), framealpha=0.6)
            elif drawn:
                ax.legend(fontsize=6, loc="lower left" if not linear else "upper right", framealpha=0.6)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(0.5, 0.5, "n/a: no finite positive values to draw", transform=ax.transAxes, ha="center",
                        va="center", fontsize=8, color="0.4")
            ax.set_title(f"{result.family} — {panel} [{result.verdict.value}]", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle(f"{run.claim['id']}: {run.claim['title']}", fontsize=10)
    right = 1.0 - (LEGEND_WIDTH / panel_w if beside else 0.02)
    fig.subplots_adjust(left=0.08 * 4.2 / panel_w, right=right, bottom=0.04, top=1.0 - 0.35 / len(rows), hspace=0.55,
                        wspace=0.3 + (LEGEND_WIDTH / 4.2 if beside else 0.0))
    save_figure(path, fig, dpi=80, bbox_inches=None)  # the layout is fixed: one draw, not two
    plt.close(fig)
    return True
