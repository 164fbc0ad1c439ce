"""Gantt timeline of per-unit busy intervals (matplotlib, Agg backend), PNG or SVG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cnnmem.errors import InputError

#: phase colours (FP, BP, GD) from the Okabe-Ito colour-blind-safe palette (sky blue, orange,
#: bluish green; black labels stay readable on each); conv and FC work share them, the unit
#: row tells them apart
PHASE_COLORS = {"FP": "#56B4E9", "BP": "#E69F00", "GD": "#009E73"}
UNIT_LABELS = {"conv": "conv unit", "fc": "FC unit", "shared": "shared unit"}
#: rows of a PU shared dynamically between conv and FC work (tnpu -O pe_sharing=dynamic)
SHARED_PU_LABELS = {"conv": "conv work\n(PU share)", "fc": "FC work\n(PU share)",
                    "shared": "shared unit"}
BAR_HEIGHT = 0.6  # a bar on all PEs; bars on a share of the PU are lower (see bar_height)


def bar_height(pes: float, total_pes: float | None) -> float:
    """Bar height for a PE allocation: 0.15 + 0.45 x share (all PEs = BAR_HEIGHT), so that even
    a 16-of-272-PE share stays visible; BAR_HEIGHT when the allocation is unknown."""
    if total_pes is None or not total_pes > 0 or not pes == pes:  # pes NaN: unknown
        return BAR_HEIGHT
    return 0.15 + 0.45 * min(pes / total_pes, 1.0)
_TIME_SCALES = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def time_scale(span_s: float) -> tuple[float, str]:
    """(seconds per display unit, unit name) so that the axis numbers stay readable."""
    for factor, name in _TIME_SCALES:
        if span_s >= 2 * factor:
            return factor, name
    return _TIME_SCALES[-1]


def plot_timeline(intervals: pd.DataFrame, path: Path | str, *, title: str = "",
                  samples: int = 4, total_pes: float | None = None,
                  shared_pu: bool = False) -> None:
    """Draw the busy intervals of the first ``samples`` samples, one row per unit.

    ``intervals`` has columns unit, part, phase (FP/BP/GD), sample, start_s, finish_s and
    optionally pes (the PEs of that interval). Events of later samples that start before the
    shown samples finish are drawn too (hatched), so idle gaps are real gaps. With ``total_pes``
    the bar height shows the PE allocation (all PEs = full height); with ``shared_pu`` (one PU
    shared dynamically) the rows are conv and FC work, and bars carry their PE count.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise InputError(f"timeline file must end in .png or .svg, got '{path.name}'",
                         field="--timeline")
    from cnnmem.report.plots import save_figure  # noqa: I001 - first: selects Agg
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    shown = intervals[intervals["sample"] < samples]
    end_s = float(shown["finish_s"].max())
    df = intervals[intervals["start_s"] < end_s]
    factor, unit_name = time_scale(end_s)
    units = [u for u in ("conv", "fc", "shared") if u in set(df["unit"])]
    fig, ax = plt.subplots(figsize=(12, 1.6 + 0.8 * len(units)))
    has_pes = "pes" in df.columns and total_pes is not None
    for row, unit in enumerate(units):
        for ev in df[df["unit"] == unit].itertuples():
            start = ev.start_s / factor
            width = (min(ev.finish_s, end_s) - ev.start_s) / factor
            later = ev.sample >= samples
            pes = float(ev.pes) if has_pes else float("nan")
            ax.barh(row, width, left=start, height=bar_height(pes, total_pes),
                    color=PHASE_COLORS[ev.phase], edgecolor="black", linewidth=0.5,
                    alpha=0.45 if later else 1.0, hatch="//" if later else None)
            # on the shared unit, C / F tell conv work from FC work
            label = f"s{ev.sample}" if unit != "shared" else (
                f"s{ev.sample}\n{'C' if ev.part == 'conv' else 'F'}")
            if shared_pu and has_pes:
                label += f"\n{pes:g}"
            if width > 0.02 * end_s / factor:
                ax.text(start + width / 2, row, label, ha="center", va="center", fontsize=7)
    labels = SHARED_PU_LABELS if shared_pu else UNIT_LABELS
    ax.set_yticks(range(len(units)), [labels[u] for u in units])
    ax.invert_yaxis()
    ax.set_xlim(0, end_s / factor)
    ax.set_xlabel(f"time ({unit_name})")
    ax.set_title(title, fontsize=10)
    handles = [Patch(facecolor=c, edgecolor="black", label=p) for p, c in PHASE_COLORS.items()]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//",
                         label=f"sample >= {samples}"))
    legend_title = ("s<n>: sample n\nC / F: conv / FC work\n"
                    + (f"bar height, number: PEs\n(full height = all {total_pes:g})\n"
                       if shared_pu and has_pes else "")
                    + "\nphase\nFP forward\nBP backward (data)\nGD gradient (weights)")
    ax.legend(handles=handles, title=legend_title,
              loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title_fontsize=8,
              frameon=False, alignment="left")
    ax.set_axisbelow(True)  # grid lines under the bars
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    fig.tight_layout()
    save_figure(fig, path, dpi=130)
    plt.close(fig)
