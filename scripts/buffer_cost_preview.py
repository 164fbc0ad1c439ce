"""Preview of issue #14: where the energy optimum of each strategy lies once the buffer costs
something (capacity-dependent SRAM energy per byte and leakage, cnnmem.hardware.techmodel).

Reads today's `cnnmem schedule ... --totals --format csv` for ResNet-50 training on WaveCore at
batch 32, capacities 512 KiB .. 64 MiB (x2 steps), strategies layerwise, mbs-greedy, mbs-optimal,
on a copy of hw/wavecore.yaml with buffer_energy = 1 pJ/B and static_power = 0, so that the
reported energy_buffer_pj *is* the buffer bytes accessed. Then recombines:

    energy = DRAM bytes x pJ/B (HBM2)  +  buffer bytes x e_buf(capacity)
           + MACs x pJ/MAC (node)       +  leakage(capacity) x latency

for a few cost-model settings, and prints per strategy the energy parts vs capacity with the
energy-optimal capacity marked. This is a preview: the real integration recomputes it inside the
single energy roll-up (the schedule itself does not change with the cost model here).

    python scripts/buffer_cost_preview.py [--markdown FILE]
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from cnnmem.hardware import techmodel as tm

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("layerwise", "mbs-greedy", "mbs-optimal")
CAPACITIES = [512 * 1024 * 2**k for k in range(8)]  # 512 KiB .. 64 MiB
BATCH = 32
DRAM_PJ_PER_BYTE = tm.dram_energy_pj_per_byte("hbm2")  # wavecore.yaml: HBM2 3.9 pJ/bit
MAC_PRECISION = "fp16-fp32"  # wavecore.yaml: fp16 multiply + fp32 accumulate

#: (label, SRAM model, node for the MAC energy, constant pJ/B or None)
SETTINGS = [
    ("today: constant 12.5 pJ/B, no leakage", None, 45, 12.5),
    ("SRAM 45 nm, 100 pW/bit leakage", tm.SramBufferCost(node_nm=45), 45, None),
    ("SRAM 45 nm, 10 nW/bit leakage", tm.SramBufferCost(node_nm=45, leakage_pw_per_bit=1e4),
     45, None),
    ("SRAM 45 nm, 100 pW/bit, 256 KiB banks (misses Horowitz's 1 MB point)",
     tm.SramBufferCost(node_nm=45, bank_bytes=256 * 1024), 45, None),
    ("SRAM 16 nm, 100 pW/bit leakage", tm.SramBufferCost(node_nm=16), 16, None),
    ("SRAM 16 nm, 10 nW/bit leakage", tm.SramBufferCost(node_nm=16, leakage_pw_per_bit=1e4),
     16, None),
]


def _cnnmem() -> str:
    exe = Path(sys.executable).parent / "cnnmem"
    return str(exe) if exe.exists() else (shutil.which("cnnmem") or "cnnmem")


def _hw_with_unit_buffer_energy(tmp: Path) -> Path:
    text = (ROOT / "hw" / "wavecore.yaml").read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("buffer_energy:"):
            line = "buffer_energy: 1 pJ/B   # preview: energy_buffer_pj = buffer bytes accessed"
        elif line.startswith("static_power:"):
            line = "static_power: 0 W"
        lines.append(line)
    path = tmp / "wavecore_unit_buffer.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def schedule_totals(hw: Path, strategy: str, capacity: int) -> dict[str, float]:
    out = subprocess.run(
        [_cnnmem(), "schedule", "resnet50", "--hw", str(hw), "--strategy", strategy,
         "--batch", str(BATCH), "--buffer", f"{capacity}B", "--totals", "--format", "csv"],
        check=True, capture_output=True, text=True).stdout
    row = next(csv.DictReader(io.StringIO(out)))
    return {k: float(row[k]) for k in ("dram_bytes", "energy_buffer_pj", "macs", "latency_s")}


def _turning_term(dram: np.ndarray, buf: np.ndarray, comp: np.ndarray, static: np.ndarray,
                  best: int) -> str:
    """Which part grows most from the optimum to the largest capacity (none at the edge)."""
    if best == len(dram) - 1:
        return "none (optimum at the largest capacity; DRAM keeps falling)"
    rise = {"buffer": buf[-1] - buf[best], "static": static[-1] - static[best],
            "dram": dram[-1] - dram[best], "compute": comp[-1] - comp[best]}
    name = max(rise, key=lambda k: rise[k])
    return f"{name} (+{rise[name]:.4f} J; DRAM {rise['dram']:+.4f} J)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = ap.parse_args()
    caps = np.array(CAPACITIES, float)
    with tempfile.TemporaryDirectory() as d:
        hw = _hw_with_unit_buffer_energy(Path(d))
        raw = {s: [schedule_totals(hw, s, c) for c in CAPACITIES] for s in STRATEGIES}
    out = io.StringIO()
    out.write(f"ResNet-50 training, WaveCore, batch {BATCH}; energies in J per batch "
              f"(DRAM = HBM2 {DRAM_PJ_PER_BYTE:.1f} pJ/B; MAC {MAC_PRECISION})\n\n")
    out.write("Schedule inputs (today's `cnnmem schedule --totals`):\n\n")
    out.write("| strategy | capacity_MiB | dram_GB | buffer_access_GB | latency_ms |\n"
              "|---|---|---|---|---|\n")
    for s in STRATEGIES:
        for c, r in zip(CAPACITIES, raw[s], strict=True):
            out.write(f"| {s} | {c / 2**20:g} | {r['dram_bytes'] / 1e9:.3f} | "
                      f"{r['energy_buffer_pj'] / 1e9:.3f} | {r['latency_s'] * 1e3:.2f} |\n")
    summary: list[str] = []
    for label, model, node, constant in SETTINGS:
        if model is None:
            e_buf = np.full(caps.shape, float(constant))
            leak = np.zeros(caps.shape)
            area = np.zeros(caps.shape)
        else:
            e_buf, leak, area = (model.energy_pj_per_byte(caps), model.leakage_w(caps),
                                 model.area_mm2(caps))
        mac_pj = tm.mac_energy_pj(MAC_PRECISION, node)
        out.write(f"\n### {label}\n\nbuffer pJ/B by capacity: "
                  + ", ".join(f"{c / 2**20:g} MiB {e:.2f}" for c, e in zip(
                      CAPACITIES, e_buf, strict=True))
                  + f"; leakage at 64 MiB {leak[-1]:.3g} W; buffer area at 64 MiB "
                  f"{area[-1]:.1f} mm2; MAC {mac_pj:.3f} pJ\n\n")
        out.write("| strategy | capacity_MiB | dram_J | buffer_J | compute_J | static_J | "
                  "total_J | optimum |\n|---|---|---|---|---|---|---|---|\n")
        for s in STRATEGIES:
            r = raw[s]
            dram = np.array([x["dram_bytes"] for x in r]) * DRAM_PJ_PER_BYTE * 1e-12
            buf = np.array([x["energy_buffer_pj"] for x in r]) * e_buf * 1e-12
            comp = np.array([x["macs"] for x in r]) * mac_pj * 1e-12
            static = leak * np.array([x["latency_s"] for x in r])
            total = dram + buf + comp + static
            best = int(np.argmin(total))
            summary.append(
                f"| {label} | {s} | {CAPACITIES[best] / 2**20:g} | {total[best]:.4f} | "
                f"{total[-1]:.4f} | {100 * (total[-1] / total[best] - 1):.1f} | "
                f"{_turning_term(dram, buf, comp, static, best)} |\n")
            for i, c in enumerate(CAPACITIES):
                mark = "<- min" if i == best else ""
                out.write(f"| {s} | {c / 2**20:g} | {dram[i]:.4f} | {buf[i]:.4f} | "
                          f"{comp[i]:.4f} | {static[i]:.5f} | {total[i]:.4f} | {mark} |\n")
    head = ("Energy-optimal capacity per setting and strategy (512 KiB .. 64 MiB):\n\n"
            "| setting | strategy | optimum_MiB | optimum_J | at_64MiB_J | 64MiB_over_optimum_% "
            "| term that turns up past the optimum |\n|---|---|---|---|---|---|---|\n"
            + "".join(summary) + "\n")
    text = head + out.getvalue()
    sys.stdout.write(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
