"""Random small networks for property tests (hypothesis strategies).

Imported by the test modules (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def small_nets(draw: st.DrawFn, dag: bool, modern: bool = False) -> str:
    """``modern`` adds the layer types of today's CNNs: squeeze-and-excitation (broadcast mul),
    transposed-conv / resize up-sampling, channel shuffle, channel split (slice + concat),
    asymmetric padding and ceil-mode pooling."""
    c = draw(st.integers(1, 4))
    h = draw(st.sampled_from([4, 6, 8]))
    lines = ["name: t", f"input: [{c}, {h}, {h}]", "layers:"]
    cur, ch, k = "input", c, 0
    n_ops = draw(st.integers(2, 6 if not dag else 4))
    for _ in range(n_ops):
        kinds = ["conv", "bn", "relu", "pool"] + (["res", "cat"] if dag else [])
        if modern:
            kinds += ["se", "up", "shuffle", "split", "asym", "ceilpool"]
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
        elif op == "se":
            lines.append(f"  - {{name: {name}p, type: globalavgpool, input: {cur}}}")
            lines.append(f"  - {{name: {name}f, type: conv, input: {name}p, out: {ch}, "
                         "kernel: 1}")
            lines.append(f"  - {{name: {name}g, type: hardsigmoid, input: {name}f}}")
            lines.append(f"  - {{name: {name}, type: mul, inputs: [{cur}, {name}g]}}")
        elif op == "up":
            if draw(st.booleans()):
                lines.append(f"  - {{name: {name}, type: convtranspose, input: {cur}, "
                             f"out: {ch}, kernel: 2, stride: 2}}")
            else:
                mode = draw(st.sampled_from(["nearest", "bilinear"]))
                lines.append(f"  - {{name: {name}, type: resize, input: {cur}, scale: 2, "
                             f"mode: {mode}}}")
            h *= 2
        elif op == "shuffle":
            g = draw(st.sampled_from([d for d in (1, 2, 3) if ch % d == 0]))
            lines.append(f"  - {{name: {name}, type: channelshuffle, input: {cur}, groups: {g}}}")
        elif op == "split":
            if ch < 2:
                lines.append(f"  - {{name: {name}, type: relu, input: {cur}}}")
            else:
                half = ch // 2
                lines.append(f"  - {{name: {name}a, type: slice, input: {cur}, end: {half}}}")
                lines.append(f"  - {{name: {name}b, type: slice, input: {cur}, start: {half}}}")
                lines.append(f"  - {{name: {name}c, type: conv, input: {name}b, "
                             f"out: {ch - half}, kernel: 3, padding: 1}}")
                lines.append(f"  - {{name: {name}, type: concat, inputs: [{name}a, {name}c]}}")
        elif op == "asym":  # same size with an even kernel: pad one more at bottom/right
            ch = draw(st.integers(1, 6))
            lines.append(f"  - {{name: {name}, type: conv, input: {cur}, out: {ch}, kernel: 2, "
                         "padding: [0, 0, 1, 1]}")
        elif op == "ceilpool":
            if h < 3:
                lines.append(f"  - {{name: {name}, type: relu, input: {cur}}}")
            else:
                h = -(-(h - 3) // 2) + 1
                lines.append(f"  - {{name: {name}, type: maxpool, input: {cur}, kernel: 3, "
                             "stride: 2, ceil_mode: true}")
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
