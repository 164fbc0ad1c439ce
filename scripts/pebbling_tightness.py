"""Tightness of the training bounds on tiny graphs: optimal traffic (exhaustive search) / bound.

Usage: python scripts/pebbling_tightness.py  (several minutes; prints a markdown table;
"too big": more than 600,000 states without / 150,000 with recomputation, not searched)
"""

from __future__ import annotations

import time

from cnnmem.model.pebbling import (
    TinyChain,
    TinyLayer,
    build_graph,
    chain_terms,
    min_capacity_bytes,
    optimal_traffic,
)
from cnnmem.model.training_bound import compulsory_bytes, training_bound_bytes

C, A, M, P = "conv", "act", "maxpool", "avgpool"
CHAINS = {
    "conv-act, x=2, N=1": TinyChain(2, (TinyLayer(C, 2, 1), TinyLayer(A, 2))),
    "conv-act, x=2, N=2": TinyChain(2, (TinyLayer(C, 2, 1), TinyLayer(A, 2)), 2),
    "conv-act-conv, N=1": TinyChain(2, (TinyLayer(C, 2, 1), TinyLayer(A, 2), TinyLayer(C, 1, 1))),
    "conv-act-conv-act, unit sizes, N=1": TinyChain(
        1, (TinyLayer(C, 1, 1), TinyLayer(A, 1), TinyLayer(C, 1, 1), TinyLayer(A, 1))),
    "conv-act-conv-act, unit sizes, N=2": TinyChain(
        1, (TinyLayer(C, 1, 1), TinyLayer(A, 1), TinyLayer(C, 1, 1), TinyLayer(A, 1)), 2),
    "conv-maxpool-conv, N=1": TinyChain(1, (TinyLayer(C, 2, 1), TinyLayer(M, 1),
                                            TinyLayer(C, 1, 1))),
}


def main() -> None:
    print("| graph | M bytes | compulsory | bound 1 | optimal, no recompute | ratio "
          "| bound 2 | optimal, recompute | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, ch in CHAINS.items():
        lo = min_capacity_bytes(build_graph(ch))
        t = chain_terms(ch)
        top = int(t.stash_activation_bytes + t.stash_input_bytes + t.backward_weight_bytes) + lo
        for m in range(lo, top + 1):
            row = [name, str(m), f"{float(compulsory_bytes(t, ch.batch)):g}"]
            for rc in (False, True):
                b = float(training_bound_bytes(t, ch.batch, m, recompute=rc)[0, 0])
                try:
                    opt = optimal_traffic(ch, m, recompute=rc,
                                          max_states=150_000 if rc else 600_000)
                except RuntimeError:
                    opt = "too big"
                ratio = f"{opt / b:.2f}" if isinstance(opt, int) else "-"
                row += [f"{b:g}", str(opt), ratio]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"\n({time.time() - t0:.0f} s)")
