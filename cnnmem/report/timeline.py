"""Gantt timeline of per-unit busy intervals (matplotlib, Agg backend), PNG or SVG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cnnmem.errors import InputError

#: phase colours (FP, BP, GD); conv and FC work share them, the unit row tells them apart
PHASE_COLORS = {"FP": "#4C72B0", "BP": "#DD8452", "GD": "#55A868"}
UNIT_LABELS = {"conv": "conv unit", "fc": "FC unit", "shared": "shared unit"}
_TIME_SCALES = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def time_scale(span_s: float) -> tuple[float, str]:
    """(seconds per display unit, unit name) so that the axis numbers stay readable."""
    for factor, name in _TIME_SCALES:
        if span_s >= 2 * factor:
            return factor, name
    return _TIME_SCALES[-1]


def plot_timeline(intervals: pd.DataFrame, path: Path | str, *, title: str = "",
                  samples: int = 4) -> None:
    """Draw the busy intervals of the first ``samples`` samples, one row per unit.

    ``intervals`` has columns unit, part, phase (FP/BP/GD), sample, start_s, finish_s. Events of
    later samples that start before the shown samples finish are drawn too (hatched), so idle gaps
    are real gaps.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise InputError(f"timeline file must end in .png or .svg, got '{path.name}'",
                         field="--timeline")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    shown = intervals[intervals["sample"] < samples]
    end_s = float(shown["finish_s"].max())
    df = intervals[intervals["start_s"] < end_s]
    factor, unit_name = time_scale(end_s)
    units = [u for u in ("conv", "fc", "shared") if u in set(df["unit"])]
    fig, ax = plt.subplots(figsize=(12, 1.6 + 0.8 * len(units)))
    for row, unit in enumerate(units):
        for ev in df[df["unit"] == unit].itertuples():
            start = ev.start_s / factor
            width = (min(ev.finish_s, end_s) - ev.start_s) / factor
            later = ev.sample >= samples
            ax.barh(row, width, left=start, height=0.6, color=PHASE_COLORS[ev.phase],
                    edgecolor="black", linewidth=0.5, alpha=0.45 if later else 1.0,
                    hatch="//" if later else None)
            # on the shared unit, C / F tell conv work from FC work
            label = f"s{ev.sample}" if unit != "shared" else (
                f"s{ev.sample}\n{'C' if ev.part == 'conv' else 'F'}")
            if width > 0.02 * end_s / factor:
                ax.text(start + width / 2, row, label, ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(units)), [UNIT_LABELS[u] for u in units])
    ax.invert_yaxis()
    ax.set_xlim(0, end_s / factor)
    ax.set_xlabel(f"time ({unit_name})")
    ax.set_title(title, fontsize=10)
    handles = [Patch(facecolor=c, edgecolor="black", label=p) for p, c in PHASE_COLORS.items()]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//",
                         label=f"sample >= {samples}"))
    legend_title = ("s<n>: sample n\nC / F: conv / FC work\n\n"
                    "phase\nFP forward\nBP backward (data)\nGD gradient (weights)")
    ax.legend(handles=handles, title=legend_title,
              loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title_fontsize=8,
              frameon=False, alignment="left")
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
