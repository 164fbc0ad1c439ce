"""Per-layer lower bound vs dataflow table (the `cnnmem bound` command and its reproduction)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cnnmem.hardware import Hardware
from cnnmem.model.cost import layer_pass_costs
from cnnmem.model.gconv import PASSES
from cnnmem.workload.network import Network


def bound_table(net: Network, hw: Hardware, buffer_bytes: float, batch: int,
                passes: tuple[str, ...] = PASSES) -> pd.DataFrame:
    """One row per conv/FC layer-pass: MACs, bound, dataflow traffic, their ratio, the tile."""
    hw = hw.replace(buffer_bytes=buffer_bytes)
    costs = layer_pass_costs(net, hw, [batch], [buffer_bytes], training=True, passes=passes,
                             include_streaming=False)
    rows = []
    for k in range(len(costs.layer)):
        b, x, y, z = (int(v) for v in costs.tile[k, 0, 0])
        dram = costs.dram_bytes[k, 0, 0]
        lb = costs.lower_bound_bytes[k, 0, 0]
        stationary_first = "c" if costs.pass_name[k] == "wgrad" else "b"
        rows.append({
            "layer": costs.layer[k],
            "type": costs.layer_type[k],
            "pass": costs.pass_name[k],
            "macs": int(costs.macs[k, 0]),
            "lower_bound_bytes": lb,
            "dataflow_bytes": dram,
            "dataflow_over_bound": dram / lb if np.isfinite(dram) else np.inf,
            "tile": (f"{stationary_first}{b} x{x} y{y} z{z}" if b > 0 else "infeasible"),
            "buffer_used_bytes": costs.buffer_need_bytes[k, 0, 0],
            "min_buffer_bytes": costs.min_need_bytes[k, 0],
            "feasible": bool(np.isfinite(dram)),
        })
    return pd.DataFrame(rows)


def with_total(df: pd.DataFrame) -> pd.DataFrame:
    total = {
        "layer": "TOTAL", "type": "", "pass": "", "macs": int(df["macs"].sum()),
        "lower_bound_bytes": df["lower_bound_bytes"].sum(),
        "dataflow_bytes": df["dataflow_bytes"].sum(),
        "dataflow_over_bound": df["dataflow_bytes"].sum() / df["lower_bound_bytes"].sum(),
        "tile": "", "buffer_used_bytes": df["buffer_used_bytes"].max(),
        "min_buffer_bytes": df["min_buffer_bytes"].max(),
        "feasible": bool(df["feasible"].all()),
    }
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)

