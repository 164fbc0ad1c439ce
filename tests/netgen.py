"""Random small networks for property tests (hypothesis strategies).

Imported by the test modules (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def small_nets(draw: st.DrawFn, dag: bool) -> str:
    c = draw(st.integers(1, 4))
    h = draw(st.sampled_from([4, 6, 8]))
    lines = ["name: t", f"input: [{c}, {h}, {h}]", "layers:"]
    cur, ch, k = "input", c, 0
    n_ops = draw(st.integers(2, 6 if not dag else 4))
    for _ in range(n_ops):
        kinds = ["conv", "bn", "relu", "pool"] + (["res", "cat"] if dag else [])
        op = draw(st.sampled_from(kinds))
        k += 1
        name = f"l{k}"
        if op == "conv":
            ch = draw(st.integers(1, 6))
            ks = draw(st.sampled_from([1, 3]))
            lines.append(f"  - {{name: {name}, type: conv, input: {cur}, out: {ch}, "
                         f"kernel: {ks}, padding: {ks // 2}}}")
        elif op == "bn":
            lines.append(f"  - {{name: {name}, type: batchnorm, input: {cur}}}")
        elif op == "relu":
            lines.append(f"  - {{name: {name}, type: relu, input: {cur}}}")
        elif op == "pool":
            if h < 4:
                lines.append(f"  - {{name: {name}, type: relu, input: {cur}}}")
            else:
                h //= 2
                lines.append(f"  - {{name: {name}, type: maxpool, input: {cur}, kernel: 2, "
                             "stride: 2}")
        elif op == "res":
            lines.append(f"  - {{name: {name}a, type: conv, input: {cur}, out: {ch}, kernel: 3, "
                         "padding: 1}")
            lines.append(f"  - {{name: {name}b, type: relu, input: {name}a}}")
            lines.append(f"  - {{name: {name}, type: add, inputs: [{name}b, {cur}]}}")
        else:  # two branches joined by concat
            c1, c2 = draw(st.integers(1, 4)), draw(st.integers(1, 4))
            lines.append(f"  - {{name: {name}a, type: conv, input: {cur}, out: {c1}, "
                         "kernel: 1}")
            lines.append(f"  - {{name: {name}b, type: conv, input: {cur}, out: {c2}, "
                         "kernel: 3, padding: 1}")
            lines.append(f"  - {{name: {name}, type: concat, inputs: [{name}a, {name}b]}}")
            ch = c1 + c2
        cur = name
    return "\n".join(lines) + "\n"
