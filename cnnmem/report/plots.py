"""Figures of a sweep run (matplotlib, Agg): each written as PNG and SVG, deterministically.

Every ``draw_*`` function builds and returns a figure (tests read the drawn values back from
it); the function of the same name without ``draw_`` writes it as PNG + SVG and closes it.
Style rules shared by all figures: the Okabe-Ito colour-blind-safe palette, grid lines under
the data, byte quantities in binary units that scale with the value (KiB, MiB, GiB, ...), one
legend per figure, and the hardware named in every panel that draws points.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from cnnmem.sweep.output import write_atomic  # noqa: E402

MIB = float(1 << 20)
GIB = float(1 << 30)
#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
#: deficiency; black is kept for the bounds
OKABE_ITO = {"orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
             "reddish_purple": "#CC79A7", "grey": "#999999"}
#: strategy lines, in order of first use (sorted strategy names)
STRATEGY_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9",
                   "#999999", "#F0E442")
STRATEGY_STYLES = ("-", "--", "-.", ":")
STRATEGY_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*")
ENERGY_PARTS = (("energy_dram_pj", "DRAM", OKABE_ITO["vermillion"]),
                ("energy_buffer_pj", "buffer", OKABE_ITO["sky_blue"]),
                ("energy_compute_pj", "compute", OKABE_ITO["blue"]),
                ("energy_static_pj", "static", OKABE_ITO["grey"]))
#: per-group traffic split by tensor kind (the columns a strategy's group table has)
TENSOR_KINDS = (("dram_activations_bytes", "activations", OKABE_ITO["blue"]),
                ("dram_stash_bytes", "stashed activations", OKABE_ITO["sky_blue"]),
                ("dram_weights_bytes", "weights", OKABE_ITO["orange"]),
                ("dram_gradients_bytes", "gradients", OKABE_ITO["vermillion"]),
                ("dram_gradient_forks_bytes", "gradient forks", OKABE_ITO["reddish_purple"]))
MAX_GROUP_BARS = 48  # more groups: the largest are drawn, the rest summed into one bar
_STYLE = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "legend.fontsize": 8,
          "svg.hashsalt": "cnnmem", "axes.grid": True, "grid.alpha": 0.35,
          "grid.linewidth": 0.6, "axes.axisbelow": True}
_BINARY_UNITS = (("TiB", float(1 << 40)), ("GiB", GIB), ("MiB", MIB), ("KiB", 1024.0),
                 ("B", 1.0))


def byte_unit(value: float) -> tuple[str, float]:
    """(name, bytes per unit) of the largest binary unit not above ``value`` (B below 1 KiB)."""
    for name, factor in _BINARY_UNITS:
        if abs(value) >= factor:
            return name, factor
    return "B", 1.0


def format_bytes(value: float) -> str:
    """'256 KiB', '1.5 MiB', '32 MiB', '2.97 GiB': three significant digits in a unit that
    scales with the value."""
    name, factor = byte_unit(value)
    return f"{value / factor:.3g} {name}"


_ENERGY_UNITS = (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3), ("pJ", 1.0))


def energy_unit(pj: float) -> tuple[str, float]:
    """(name, pJ per unit) of the largest SI energy unit not above ``pj``."""
    for name, factor in _ENERGY_UNITS:
        if abs(pj) >= factor:
            return name, factor
    return "pJ", 1.0


def format_energy(pj: float) -> str:
    """Energy in pJ -> '3.59 J', '812 mJ', '4.1 µJ'."""
    name, factor = energy_unit(pj)
    return f"{pj / factor:.3g} {name}"


def _bytes_formatter() -> matplotlib.ticker.Formatter:
    return matplotlib.ticker.FuncFormatter(lambda v, _: format_bytes(v) if v > 0 else "0")


def _log2_bytes_axis(axis: matplotlib.axis.Axis, lo: float, hi: float) -> None:
    """A log axis in bytes with ticks at powers of two (at most about 8 labels), each tick in
    its own binary unit."""
    k0, k1 = int(np.floor(np.log2(lo))), int(np.ceil(np.log2(hi)))
    step = max(1, int(np.ceil((k1 - k0 + 1) / 8)))
    ticks = [2.0 ** k for k in range(k0, k1 + 1) if (k - k0) % step == 0 and lo <= 2.0 ** k <= hi]
    for mult in ((1, 1.5), (1, 1.25, 1.5, 1.75)):  # a narrow range: finer ticks
        if len(ticks) >= 4:
            break
        fine = [2.0 ** k * m for k in range(k0 - 1, k1 + 1) for m in mult]
        ticks = [t for t in fine if lo <= t <= hi]
    axis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    axis.set_major_formatter(_bytes_formatter())
    axis.set_minor_locator(matplotlib.ticker.NullLocator())


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


def _figure_legend(fig: plt.Figure, handles: Sequence, *, side: bool = False) -> None:
    """One legend for the whole figure, outside the panels (never over data): in one row
    above them, or (``side``, for long labels) in a column on their right."""
    fig.tight_layout()
    if not handles:  # nothing to name (e.g. every energy part is zero)
        return
    if side:
        fig.legend(handles=list(handles), loc="center left", frameon=False,
                   bbox_to_anchor=(1.0, 0.5))
    else:
        fig.legend(handles=list(handles), loc="lower center", ncol=min(len(handles), 5),
                   frameon=False, bbox_to_anchor=(0.5, 1.0))


#: result-column suffix -> (display unit, SI factor); "_bytes" scales in binary units
_COLUMN_UNITS = (("_bytes_per_s", "GB/s", 1e9), ("_pj_per_byte", "pJ/B", 1.0),
                 ("_pj", "pJ", 1.0), ("_hz", "GHz", 1e9), ("_w", "W", 1.0),
                 ("_bytes", "", 0.0))


def format_column_value(column: str, value: float) -> str:
    """A hardware-axis value for a title: ('dram_bandwidth_bytes_per_s', 1.28e10) ->
    'dram_bandwidth 12.8 GB/s'; ('buffer_bytes', 2097152) -> 'buffer 2 MiB'."""
    for suffix, unit, factor in _COLUMN_UNITS:
        if column.endswith(suffix):
            name = column.removesuffix(suffix)
            shown = format_bytes(value) if suffix == "_bytes" else f"{value / factor:.4g} {unit}"
            return f"{name} {shown}"
    return f"{column} {value:.4g}"


def panel_title(key: tuple, columns: Sequence[str]) -> str:
    """'resnet50 on edge' (+ a line 'dram_bandwidth 12.8 GB/s, ...' of swept hardware fields)."""
    values = dict(zip(columns, key, strict=True))
    title = f"{values.get('network', '')} on {values.get('hardware', '')}"
    extra = [format_column_value(c, float(values[c])) for c in columns
             if c not in ("network", "hardware")]
    return title + ("\n" + ", ".join(extra) if extra else "")


def _groups(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple[tuple, pd.DataFrame]]:
    out = []
    for key, g in frame.groupby(list(columns), sort=True, dropna=False):
        out.append((key if isinstance(key, tuple) else (key,), g))
    return out


def _strategy_styles(strategies: Sequence[str]) -> dict[str, dict]:
    return {s: {"color": STRATEGY_COLORS[k % len(STRATEGY_COLORS)],
                "linestyle": STRATEGY_STYLES[k % len(STRATEGY_STYLES)],
                "marker": STRATEGY_MARKERS[k % len(STRATEGY_MARKERS)]}
            for k, s in enumerate(sorted(strategies))}


def staircase(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(capacity_bytes, dram_bytes) of one strategy's front: the least traffic with at most
    that much buffer (never worse with more buffer), finite points only."""
    g = g.sort_values("capacity_bytes", kind="mergesort")
    y = np.minimum.accumulate(g["dram_bytes"].to_numpy(dtype=float))
    ok = np.isfinite(y)
    return g["capacity_bytes"].to_numpy(dtype=float)[ok], y[ok]


#: strategies whose rows leave out the one-time weight load (OCCAM's pipeline keeps its filters
#: on chip and reports the per-image stream traffic; the load is in filter_load_once_bytes,
#: see cnnmem/model/fusion.py): they are bounded by the compulsory traffic without weights
STEADY_STATE_STRATEGIES = frozenset({"occam"})
#: how far (factor) below the lowest point a floor may lie and still be drawn in the axis
FLOOR_DRAWN_WITHIN = 4.0


def draw_traffic_vs_capacity(best: pd.DataFrame, bounds: dict[tuple, pd.DataFrame],
                             panel_columns: Sequence[str] = ("network", "hardware"),
                             *, training: bool = True) -> plt.Figure:
    """DRAM traffic vs buffer capacity: a panel per network and hardware configuration, per
    strategy its Pareto staircase, with the per-layer lower bound, the whole-network training
    bound 1 (a ``training_bound_bytes`` column in ``bounds``, training sweeps) and the
    compulsory traffic.

    ``best``: columns ``panel_columns``, strategy, capacity_bytes, dram_bytes.
    ``bounds``: panel key -> frame (capacity_bytes, lower_bound_bytes, compulsory_bytes,
    compulsory_no_weights_bytes). A compulsory floor far below the data (more than
    ``FLOOR_DRAWN_WITHIN`` x under the lowest point) is not drawn (it would stretch the log axis
    by empty decades); its value is written in the panel instead.
    """
    with plt.rc_context(_STYLE):
        panels = _groups(best, panel_columns)
        fig, axes = _panels(len(panels))
        styles = _strategy_styles(list(dict.fromkeys(best["strategy"])))
        used: dict[str, object] = {}
        weights_what = "weight gradients" if training else "outputs"
        floor_labels = {
            "training": "whole-network training bound 1\n(schedules without recomputation)",
            "lower": "sum of per-layer lower bounds\n(bounds layer-by-layer schedules)",
            "compulsory": f"compulsory traffic: input, weights,\n{weights_what} once",
            "stream": "compulsory traffic without the one-time\nweight load (bounds OCCAM's "
                      "rows)"}
        for ax, (key, sub) in zip(axes, panels, strict=True):
            xs, ys = [], []
            for strat, g in sub.groupby("strategy", sort=True):
                x, y = staircase(g)
                if not len(x):
                    continue
                st = styles[str(strat)]
                ax.step(x, y, where="post", linestyle=st["linestyle"], color=st["color"],
                        marker=st["marker"], markersize=3.5, linewidth=1.4, label=str(strat),
                        markevery=max(1, len(x) // 16))  # markers tell lines apart, sparsely
                used.setdefault(str(strat), Line2D([], [], label=str(strat), markersize=4,
                                                   **st))
                xs.append(x)
                ys.append(y)
            b = bounds.get(key)
            if b is not None and len(b):
                b = b.sort_values("capacity_bytes")
                ax.plot(b["capacity_bytes"], b["lower_bound_bytes"], color="black",
                        linestyle="--", linewidth=1.1, label=floor_labels["lower"],
                        marker="_" if len(b) == 1 else None, markersize=12)
                used.setdefault("lower", Line2D([], [], color="black", linestyle="--",
                                                label=floor_labels["lower"]))
                xs.append(b["capacity_bytes"].to_numpy(float))
                ys.append(b["lower_bound_bytes"].to_numpy(float))
                if "training_bound_bytes" in b:
                    ax.plot(b["capacity_bytes"], b["training_bound_bytes"], color="black",
                            linestyle="-", linewidth=1.6, label=floor_labels["training"],
                            marker="_" if len(b) == 1 else None, markersize=12)
                    used.setdefault("training", Line2D([], [], color="black", linestyle="-",
                                                       linewidth=1.6,
                                                       label=floor_labels["training"]))
                    xs.append(b["capacity_bytes"].to_numpy(float))
                    ys.append(b["training_bound_bytes"].to_numpy(float))
            if not xs:
                continue
            x_all, y_all = np.concatenate(xs), np.concatenate(ys)
            y_lo, y_hi = float(y_all.min()), float(y_all.max())
            notes = []
            if b is not None and len(b):
                floors = [("compulsory", float(b["compulsory_bytes"].iloc[0]), ":")]
                if set(sub["strategy"]) & STEADY_STATE_STRATEGIES:
                    floors.append(("stream", float(b["compulsory_no_weights_bytes"].iloc[0]),
                                   (0, (1, 3))))
                for name, value, ls in floors:
                    if value * FLOOR_DRAWN_WITHIN >= y_lo:
                        ax.axhline(value, color="black", linestyle=ls, linewidth=1.1,
                                   label=floor_labels[name])
                        used.setdefault(name, Line2D([], [], color="black", linestyle=ls,
                                                     label=floor_labels[name]))
                        y_lo = min(y_lo, value)
                    else:
                        what = "compulsory traffic" + (" without weights" if name == "stream"
                                                       else "")
                        notes.append(f"{what}: {format_bytes(value)} (below the axis)")
            x_lo, x_hi = float(x_all.min()), float(x_all.max())
            if x_hi <= x_lo:
                x_lo, x_hi = x_lo / 1.5, x_hi * 1.5
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_xlim(x_lo / 1.12, x_hi * 1.12)
            pad = max((y_hi / y_lo) ** 0.06, 1.08)
            ax.set_ylim(y_lo / pad, y_hi * pad)
            _log2_bytes_axis(ax.xaxis, x_lo / 1.12, x_hi * 1.12)
            _log2_bytes_axis(ax.yaxis, y_lo / pad, y_hi * pad)
            if notes:
                ax.text(0.02, 0.02, "\n".join(notes), transform=ax.transAxes, fontsize=7,
                        va="bottom", ha="left", color="0.25")
            ax.set_xlabel("on-chip buffer capacity")
            ax.set_ylabel("DRAM traffic per batch")
            ax.set_title(panel_title(key, panel_columns))
        order = [*sorted(k for k in used if k not in floor_labels),
                 *[k for k in floor_labels if k in used]]
        _figure_legend(fig, [used[k] for k in order], side=True)
        return fig


def traffic_vs_capacity(best: pd.DataFrame, bounds: dict[tuple, pd.DataFrame],
                        path_stem: Path, panel_columns: Sequence[str] = ("network", "hardware"),
                        *, training: bool = True) -> list[Path]:
    """Write :func:`draw_traffic_vs_capacity` as PNG and SVG."""
    return save(draw_traffic_vs_capacity(best, bounds, panel_columns, training=training),
                path_stem)


BASELINE = "layerwise"


def energy_parts_drawn(points: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The energy parts that are not zero in every point (a part that is zero everywhere, such
    as static energy on hardware without static power, gets no bar and no legend entry)."""
    return [p for p in ENERGY_PARTS
            if p[0] in points and np.nansum(np.abs(points[p[0]].to_numpy(float))) > 0]


def draw_energy_breakdown(points: pd.DataFrame,
                          panel_columns: Sequence[str] = ("network", "hardware"),
                          baselines: dict[tuple, tuple[float, float]] | None = None
                          ) -> plt.Figure:
    """Stacked bars of energy parts, one bar per strategy (its lowest-energy point), a panel
    per network and hardware configuration, normalised to the layer-by-layer baseline: the
    ``layerwise`` row of the panel, else ``baselines[key]`` = (energy_pj, capacity_bytes)
    computed for it (written in the panel), else absolute energy. Every bar carries its value."""
    baselines = baselines or {}
    with plt.rc_context(_STYLE):
        panels = _groups(points, panel_columns)
        fig, axes = _panels(len(panels))
        parts = energy_parts_drawn(points)
        for ax, (key, sub) in zip(axes, panels, strict=True):
            sub = sub.sort_values("strategy", kind="mergesort").reset_index(drop=True)
            base = sub.loc[sub["strategy"] == BASELINE, "energy_pj"]
            scale, computed = None, None
            if len(base) and float(base.iloc[0]) > 0:
                scale = float(base.iloc[0])
            elif key in baselines and baselines[key][0] > 0:
                scale, computed = baselines[key][0], baselines[key][1]
            unit, factor = energy_unit(float(sub["energy_pj"].max()))
            div = scale if scale else factor
            x = np.arange(len(sub))
            bottom = np.zeros(len(sub))
            for col, label, color in parts:
                v = sub[col].to_numpy(dtype=float) / div
                ax.bar(x, v, bottom=bottom, label=label, color=color, width=0.6,
                       edgecolor="white", linewidth=0.5)
                bottom += v
            for xi, total, pj in zip(x, bottom, sub["energy_pj"].to_numpy(float), strict=True):
                text = f"{total:.2f}\n({format_energy(pj)})" if scale else format_energy(pj)
                ax.text(xi, total, text, ha="center", va="bottom", fontsize=7.5)
            labels = [f"{s}\n{format_bytes(c)}" for s, c in
                      zip(sub["strategy"], sub["capacity_bytes"], strict=True)]
            many = len(sub) > 3
            ax.set_xticks(x, labels, rotation=30 if many else 0, ha="right" if many else "center",
                          fontsize=8 if many else 9, rotation_mode="anchor")
            ax.set_xlim(-0.7, max(len(sub), 3) - 0.3)
            top = max(float(np.nanmax(bottom)) if len(bottom) else 1.0, 1.0 if scale else 0.0)
            ax.set_ylim(0, (top or 1.0) * 1.22)  # room for the value written over the tallest bar
            ax.grid(axis="x", visible=False)
            if scale:
                ax.set_ylabel(f"energy per batch / {BASELINE}")
                ax.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
                if computed is not None:
                    ax.text(0.99, 1.0, f"{BASELINE} (not swept, computed): "
                            f"{format_energy(scale)} at {format_bytes(computed)}",
                            transform=ax.get_yaxis_transform(), ha="right", va="bottom",
                            fontsize=7, color="0.25")
            else:
                ax.set_ylabel(f"energy per batch ({unit}; no {BASELINE} in the sweep)")
            ax.set_title(panel_title(key, panel_columns))
        handles = [Patch(facecolor=c, label=lab) for _, lab, c in parts]
        _figure_legend(fig, handles)
        return fig


def energy_breakdown(points: pd.DataFrame, path_stem: Path,
                     panel_columns: Sequence[str] = ("network", "hardware"),
                     baselines: dict[tuple, tuple[float, float]] | None = None) -> list[Path]:
    """Write :func:`draw_energy_breakdown` as PNG and SVG."""
    return save(draw_energy_breakdown(points, panel_columns, baselines), path_stem)


def group_kind_columns(groups: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The tensor-kind columns of a group table when they add up to its dram_bytes (else [],
    and each group is one bar)."""
    kinds = [k for k in TENSOR_KINDS if k[0] in groups]
    if not kinds or "dram_bytes" not in groups:
        return []
    total = groups[[k[0] for k in kinds]].to_numpy(float).sum(axis=1)
    want = groups["dram_bytes"].to_numpy(float)
    return kinds if np.allclose(total, want, rtol=1e-9, atol=1.0) else []


def bars_of_groups(groups: pd.DataFrame, limit: int = MAX_GROUP_BARS) -> pd.DataFrame:
    """The groups drawn: all of them, or the ``limit - 1`` with most traffic (in network order)
    and one bar summing the rest; totals are kept."""
    g = groups.reset_index(drop=True)
    if len(g) <= limit:
        return g
    keep = np.sort(np.argsort(-g["dram_bytes"].to_numpy(float), kind="stable")[:limit - 1])
    rest = g.drop(index=keep)
    other = {c: rest[c].sum() for c in g.columns if pd.api.types.is_numeric_dtype(g[c])}
    other["layers"] = f"{len(rest)} other groups"
    other["sub_batch"] = np.nan
    return pd.concat([g.loc[keep], pd.DataFrame([other])], ignore_index=True)


def draw_per_group_traffic(groups: pd.DataFrame, title: str) -> plt.Figure:
    """DRAM traffic per group of one schedule as horizontal bars in network order (first group
    on top), stacked by tensor kind where the strategy splits it; each bar is labelled with the
    group's full "first .. last" layer names, its sub-batch and its total."""
    with plt.rc_context(_STYLE):
        g = bars_of_groups(groups)
        n = len(g)
        fig, ax = plt.subplots(figsize=(9.0, 1.3 + 0.3 * max(n, 3)))
        total = g["dram_bytes"].to_numpy(dtype=float)
        unit, factor = byte_unit(float(np.nanmax(total)) if n else 1.0)
        y = np.arange(n)
        kinds = group_kind_columns(g)
        left = np.zeros(n)
        if kinds:
            for col, label, color in kinds:
                v = g[col].to_numpy(dtype=float) / factor
                if np.any(v > 0):
                    ax.barh(y, v, left=left, height=0.7, color=color, label=label)
                left += v
        else:
            ax.barh(y, total / factor, height=0.7, color=OKABE_ITO["blue"],
                    label="DRAM traffic")
            left = total / factor
        sb = g["sub_batch"] if "sub_batch" in g else pd.Series([np.nan] * n)
        for yi, end, t, s in zip(y, left, total, sb, strict=True):
            text = format_bytes(t) + (f", sub-batch {int(s)}" if pd.notna(s) else "")
            ax.text(end, yi, " " + text, va="center", ha="left", fontsize=7)
        names = g["layers"].astype(str).tolist() if "layers" in g else [str(i) for i in y]
        ax.set_yticks(y, names, fontsize=7 if n > 20 else 8)
        ax.set_ylim(n - 0.5, -0.5)  # first group on top
        ax.set_xlim(0, float(np.nanmax(left)) * 1.35 if n else 1.0)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(f"DRAM traffic per batch ({unit})")
        ax.set_title(title)
        handles, _ = ax.get_legend_handles_labels()
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                   ncol=min(len(handles), 5), frameon=False)
        fig.tight_layout()
        return fig


def per_group_traffic(groups: pd.DataFrame, title: str, path_stem: Path) -> list[Path]:
    """Write :func:`draw_per_group_traffic` as PNG and SVG."""
    return save(draw_per_group_traffic(groups, title), path_stem)


def energy_optimum(g: pd.DataFrame) -> pd.Series:
    """The row of least energy of one strategy's energy-vs-capacity rows (the smallest
    capacity among equals)."""
    g = g.sort_values("capacity_bytes", kind="mergesort")
    return g.iloc[int(np.argmin(g["energy_pj"].to_numpy(dtype=float)))]


def draw_energy_vs_capacity(points: pd.DataFrame,
                            panel_columns: Sequence[str] = ("network", "hardware")
                            ) -> plt.Figure:
    """Energy per batch vs buffer capacity, a panel per configuration and strategy: the
    lowest-energy point at each capacity stacked into DRAM / buffer / compute / static energy
    (parts zero everywhere left out), the energy-optimal capacity marked and written.

    ``points``: columns ``panel_columns``, strategy, capacity_bytes, energy_pj and the parts.
    """
    with plt.rc_context(_STYLE):
        panels = _groups(points, [*panel_columns, "strategy"])
        fig, axes = _panels(len(panels))
        parts = energy_parts_drawn(points)
        unit, factor = energy_unit(float(np.nanmax(points["energy_pj"].to_numpy(float))))
        for ax, (key, sub) in zip(axes, panels, strict=True):
            sub = sub.sort_values("capacity_bytes", kind="mergesort")
            x = sub["capacity_bytes"].to_numpy(float)
            if parts:
                ax.stackplot(x, *[sub[col].to_numpy(float) / factor for col, _, _ in parts],
                             colors=[c for _, _, c in parts], alpha=0.85)
            else:  # every part zero (hardware without energies): the total line only
                ax.plot(x, sub["energy_pj"].to_numpy(float) / factor, color="black")
            best = energy_optimum(sub)
            ax.axvline(float(best["capacity_bytes"]), color="black", linewidth=1.0,
                       linestyle="--")
            ax.plot([float(best["capacity_bytes"])], [float(best["energy_pj"]) / factor],
                    marker="v", color="black", linestyle="none")
            ax.annotate(f"optimum {format_bytes(float(best['capacity_bytes']))}\n"
                        f"{format_energy(float(best['energy_pj']))}",
                        (float(best["capacity_bytes"]), float(best["energy_pj"]) / factor),
                        textcoords="offset points", xytext=(6, 6), fontsize=8)
            ax.set_xscale("log", base=2)
            if len(x) > 1:
                _log2_bytes_axis(ax.xaxis, float(x.min()), float(x.max()))
            ax.set_xlabel("buffer capacity")
            ax.set_ylabel(f"energy per batch ({unit})")
            ax.set_title(f"{key[-1]}: " + panel_title(key[:-1], panel_columns))
        handles: list[Patch | Line2D] = [Patch(color=c, label=label) for _, label, c in parts]
        handles.append(Line2D([], [], color="black", linestyle="--", marker="v",
                              label="energy-optimal capacity"))
        _figure_legend(fig, handles)
        return fig


def energy_vs_capacity(points: pd.DataFrame, path_stem: Path,
                       panel_columns: Sequence[str] = ("network", "hardware")) -> list[Path]:
    """Write :func:`draw_energy_vs_capacity` as PNG and SVG."""
    return save(draw_energy_vs_capacity(points, panel_columns), path_stem)


def area_front(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(area_mm2, dram_bytes) of one strategy's traffic-vs-area front: the least traffic with
    at most that much area, finite points only."""
    g = g.sort_values(["area_mm2", "dram_bytes"], kind="mergesort")
    y = np.minimum.accumulate(g["dram_bytes"].to_numpy(dtype=float))
    ok = np.isfinite(y)
    return g["area_mm2"].to_numpy(dtype=float)[ok], y[ok]


def draw_traffic_vs_area(best: pd.DataFrame,
                         panel_columns: Sequence[str] = ("network", "hardware")) -> plt.Figure:
    """DRAM traffic vs chip area (buffer + MAC array, mm2): per configuration a panel, per
    strategy its front (least traffic with at most that much area).

    ``best``: columns ``panel_columns``, strategy, area_mm2, dram_bytes."""
    with plt.rc_context(_STYLE):
        panels = _groups(best, panel_columns)
        fig, axes = _panels(len(panels))
        styles = _strategy_styles(list(dict.fromkeys(best["strategy"])))
        used: dict[str, object] = {}
        for ax, (key, sub) in zip(axes, panels, strict=True):
            for strat, g in sub.groupby("strategy", sort=True):
                x, y = area_front(g)
                if not len(x):
                    continue
                st = styles[str(strat)]
                line, = ax.step(x, y / GIB, where="post", color=st["color"],
                                linestyle=st["linestyle"], marker=st["marker"], markersize=3,
                                label=str(strat))
                used.setdefault(str(strat), line)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("chip area (mm2: buffer + MAC array)")
            ax.set_ylabel("DRAM traffic per batch (GiB)")
            ax.set_title(panel_title(key, panel_columns))
        _figure_legend(fig, list(used.values()))
        return fig


def traffic_vs_area(best: pd.DataFrame, path_stem: Path,
                    panel_columns: Sequence[str] = ("network", "hardware")) -> list[Path]:
    """Write :func:`draw_traffic_vs_area` as PNG and SVG."""
    return save(draw_traffic_vs_area(best, panel_columns), path_stem)
