"""Figures of a sweep run (matplotlib, Agg): each written as PNG and SVG, deterministically."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cnnmem.sweep.output import write_atomic  # noqa: E402

MIB = float(1 << 20)
GIB = float(1 << 30)
ENERGY_PARTS = (("energy_dram_pj", "DRAM"), ("energy_buffer_pj", "buffer"),
                ("energy_compute_pj", "compute"), ("energy_static_pj", "static"))
_STYLE = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8,
          "svg.hashsalt": "cnnmem", "axes.grid": True, "grid.alpha": 0.3}


def save_figure(fig: plt.Figure, path: Path | str, *, dpi: int = 150) -> Path:
    """Write one PNG or SVG with no date or software stamp and stable SVG ids, so the same
    figure gives the same bytes. The figure stays open."""
    path = Path(path)
    svg = path.suffix.lower() == ".svg"
    buf = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "cnnmem"}):
        fig.savefig(buf, dpi=dpi, bbox_inches="tight", format="svg" if svg else "png",
                    metadata={"Date": None, "Creator": None} if svg else {"Software": None})
    write_atomic(path, buf.getvalue())  # an interrupt never leaves a truncated figure
    return path


def save(fig: plt.Figure, path_stem: Path) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` (deterministic, see :func:`save_figure`)."""
    paths = [save_figure(fig, path_stem.with_suffix(".png")),
             save_figure(fig, path_stem.with_suffix(".svg"))]
    plt.close(fig)
    return paths


def _panels(n: int, width: float = 5.2, height: float = 3.8) -> tuple[plt.Figure, list]:
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def traffic_vs_capacity(best: pd.DataFrame, bounds: dict[str, pd.DataFrame],
                        path_stem: Path) -> list[Path]:
    """DRAM traffic vs buffer capacity: per network a panel, per strategy its Pareto staircase.

    ``best``: columns network, strategy, capacity_bytes, dram_bytes (min per capacity).
    ``bounds``: network -> frame (capacity_bytes, lower_bound_bytes).
    """
    with plt.rc_context(_STYLE):
        nets = list(dict.fromkeys(best["network"]))
        fig, axes = _panels(len(nets))
        for ax, net in zip(axes, nets, strict=True):
            sub = best[best["network"] == net]
            styles = ("-", "--", "-.", ":")
            markers = ("o", "s", "^", "v", "D", "x")
            for k, (strat, g) in enumerate(sub.groupby("strategy", sort=True)):
                g = g.sort_values("capacity_bytes")
                y = np.minimum.accumulate(g["dram_bytes"].to_numpy())  # the front: never worse
                ok = np.isfinite(y)
                ax.step(g["capacity_bytes"].to_numpy()[ok] / MIB, y[ok] / GIB, where="post",
                        linestyle=styles[k % 4], marker=markers[k % 6], markersize=3,
                        label=str(strat))
            if net in bounds and len(bounds[net]):
                b = bounds[net].sort_values("capacity_bytes")
                ax.plot(b["capacity_bytes"] / MIB, b["lower_bound_bytes"] / GIB, "k--",
                        linewidth=1.2, label="per-layer lower bound (layer by layer)")
                if "compulsory_bytes" in b:
                    ax.plot(b["capacity_bytes"] / MIB, b["compulsory_bytes"] / GIB, "k:",
                            linewidth=1.2, label="compulsory traffic (any schedule)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            lo, hi = ax.get_ylim()
            if hi / max(lo, 1e-30) < 30:  # label minor ticks only when few decades show
                ax.yaxis.set_minor_formatter(
                    matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            else:
                ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            x_lo, x_hi = ax.get_xlim()
            ax.xaxis.set_minor_formatter(
                matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
                if x_hi / max(x_lo, 1e-30) < 30 else matplotlib.ticker.NullFormatter())
            ax.set_xlabel("on-chip buffer capacity (MiB)")
            ax.set_ylabel("DRAM traffic per batch (GiB)")
            ax.set_title(f"{net}: DRAM traffic vs buffer (Pareto front)")
            ax.legend(loc="best")
        fig.tight_layout()
        return save(fig, path_stem)


def energy_breakdown(points: pd.DataFrame, path_stem: Path) -> list[Path]:
    """Stacked bars of energy parts (mJ), one bar per strategy, a panel per network."""
    with plt.rc_context(_STYLE):
        nets = list(dict.fromkeys(points["network"]))
        fig, axes = _panels(len(nets))
        colors = ("#d62728", "#1f77b4", "#2ca02c", "#7f7f7f")
        for ax, net in zip(axes, nets, strict=True):
            sub = points[points["network"] == net].reset_index(drop=True)
            x = np.arange(len(sub))
            bottom = np.zeros(len(sub))
            for (col, label), color in zip(ENERGY_PARTS, colors, strict=True):
                v = sub[col].to_numpy(dtype=float) / 1e9  # pJ -> mJ
                ax.bar(x, v, bottom=bottom, label=label, color=color, width=0.6)
                bottom += v
            labels = [f"{s}\n@{c / MIB:.3g} MiB" for s, c in zip(sub["strategy"],
                                                                 sub["capacity_bytes"],
                                                                 strict=True)]
            ax.set_xticks(x, labels, rotation=0 if len(sub) <= 3 else 35,
                          ha="center" if len(sub) <= 3 else "right",
                          fontsize=9 if len(sub) <= 3 else 8, rotation_mode="anchor")
            ax.set_xlim(-0.8, max(len(sub), 3) - 0.2)
            ax.set_ylabel("energy per batch (mJ)")
            ax.set_title(f"{net}: energy of each strategy's best point")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        return save(fig, path_stem)


def per_group_traffic(groups: pd.DataFrame, title: str, path_stem: Path) -> list[Path]:
    """DRAM traffic per group (or layer) of one schedule, in MiB."""
    with plt.rc_context(_STYLE):
        n = len(groups)
        fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.08 * n + 4)), 3.8))
        y = groups["dram_bytes"].to_numpy(dtype=float) / MIB
        ax.bar(np.arange(n), y, width=0.8, color="#1f77b4")
        labels = groups["layers"].astype(str).tolist() if "layers" in groups else None
        if labels is not None and n <= 40:
            ax.set_xticks(np.arange(n), [s if len(s) <= 24 else s[:21] + "..." for s in labels],
                          rotation=60, ha="right", fontsize=7)
        else:
            ax.set_xlabel(f"group index in network order ({n} groups)")
        ax.set_ylabel("DRAM traffic (MiB)")
        ax.set_title(title)
        fig.tight_layout()
        return save(fig, path_stem)
