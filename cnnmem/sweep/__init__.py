"""Design-space sweeps: sweep files, the chunked evaluation engine, Pareto fronts, outputs."""

from cnnmem.sweep.pareto import pareto_mask
from cnnmem.sweep.spec import SweepSpec, load_sweep, parse_sweep

__all__ = ["SweepSpec", "load_sweep", "pareto_mask", "parse_sweep"]
