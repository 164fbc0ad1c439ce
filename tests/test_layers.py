"""Shape inference, parameter and MAC counts of every layer type, and block expansion."""

from __future__ import annotations

import textwrap

import pytest

from cnnmem.errors import InputError
from cnnmem.workload import INPUT, Network, load_network_text
from cnnmem.workload.layers import (
    ACTIVATIONS,
    ADD,
    ALIASES,
    CONCAT,
    CONV,
    ELTWISE,
    FC,
    NORM,
    POOL,
    RESHAPE,
    TYPES,
    conv_output_size,
)


def net(layers: str, *, input: str = "[3, 32, 32]", blocks: str = "") -> Network:
    """A network from an indented YAML list of layers (and optional blocks mapping)."""
    text = f"name: t\ninput: {input}\n"
    if blocks:
        text += "blocks:\n" + textwrap.indent(textwrap.dedent(blocks).strip("\n"), "  ") + "\n"
    text += "layers:\n" + textwrap.indent(textwrap.dedent(layers).strip("\n"), "  ") + "\n"
    return load_network_text(text, file="t.yaml")


def one(layer: str, *, input: str = "[3, 32, 32]"):
    """The single layer of a one-layer network."""
    n = net(f"- {layer}", input=input)
    assert len(n) == 1
    return n.layers[0]


ELTWISE_KINDS = [*ACTIVATIONS, "dropout", "softmax"]

#: The layer types the tests below exercise; a new type in TYPES must get a test here.
COVERED = {
    "conv", "fc", "flatten", "maxpool", "avgpool", "globalavgpool", "globalmaxpool",
    "batchnorm", "groupnorm", "lrn", "add", "concat", *ELTWISE_KINDS,
    "convtranspose", "mul", "resize", "channelshuffle", "slice",
}


# --------------------------------------------------------------------------------------------
# conv


def test_conv_basic_counts() -> None:
    lay = one("{name: c, type: conv, out: 16, kernel: 3, padding: 1}")
    assert lay.family == CONV and lay.is_compute
    assert lay.out_shape == (16, 32, 32)
    assert lay.in_shapes == ((3, 32, 32),)
    assert lay.inputs == (INPUT,)
    assert lay.weight_elems == 16 * 3 * 3 * 3 + 16  # weights + bias
    assert lay.macs == 32 * 32 * 16 * 3 * 3 * 3
    assert (lay.kernel, lay.stride, lay.padding, lay.dilation, lay.groups) == (
        (3, 3), (1, 1), (1, 1), (1, 1), 1)
    assert lay.bias is True
    assert lay.in_elems == 3 * 32 * 32 and lay.out_elems == 16 * 32 * 32


def test_conv_without_bias() -> None:
    lay = one("{name: c, type: conv, out: 16, kernel: 3, bias: false}")
    assert lay.weight_elems == 16 * 3 * 9
    assert lay.out_shape == (16, 30, 30)


@pytest.mark.parametrize(
    ("fields", "size", "expected_hw"),
    [
        ("kernel: 3, stride: 2, padding: 1", 32, (16, 16)),
        ("kernel: 3, stride: 2", 32, (15, 15)),
        ("kernel: 7, stride: 2, padding: 3", 224, (112, 112)),  # ResNet stem
        ("kernel: 11, stride: 4, padding: 2", 224, (55, 55)),  # AlexNet conv1
        ("kernel: 3, dilation: 2, padding: 2", 32, (32, 32)),
        ("kernel: 3, dilation: 2", 32, (28, 28)),
        ("kernel: [1, 7], padding: [0, 3]", 32, (32, 32)),
        ("kernel: [3, 1]", 32, (30, 32)),
        ("kernel: 1, stride: [2, 1]", 32, (16, 32)),
        ("kernel: 3, padding: same", 32, (32, 32)),
        ("kernel: 2, padding: same", 32, (32, 32)),  # even kernel: asymmetric padding
        ("kernel: 4, padding: same", 31, (31, 31)),
        ("kernel: 5, dilation: 2, padding: same", 32, (32, 32)),
        ("kernel: [1, 4], padding: same", 9, (9, 9)),
        ("kernel: 32", 32, (1, 1)),
    ],
)
def test_conv_geometry(fields: str, size: int, expected_hw: tuple[int, int]) -> None:
    lay = one(f"{{name: c, type: conv, out: 8, {fields}}}", input=f"[3, {size}, {size}]")
    assert lay.out_shape == (8, *expected_hw)
    kh, kw = lay.kernel
    assert lay.macs == expected_hw[0] * expected_hw[1] * 8 * 3 * kh * kw


def test_conv_same_padding_records_symmetric_part() -> None:
    assert one("{type: conv, out: 4, kernel: 3, padding: same}").padding == (1, 1)
    assert one("{type: conv, out: 4, kernel: 5, dilation: 2, padding: same}").padding == (4, 4)
    assert one("{type: conv, out: 4, kernel: 2, padding: same}").padding == (0, 0)


def test_conv_grouped() -> None:
    lay = one("{name: g, type: conv, out: 6, kernel: 3, padding: 1, groups: 3}")
    assert lay.groups == 3
    assert lay.weight_elems == 6 * (3 // 3) * 9 + 6
    assert lay.macs == 32 * 32 * 6 * 1 * 9


def test_conv_depthwise() -> None:
    lay = one("{name: dw, type: conv, out: 8, kernel: 3, padding: 1, groups: depthwise, "
              "bias: false}", input="[8, 10, 10]")
    assert lay.groups == 8
    assert lay.out_shape == (8, 10, 10)
    assert lay.weight_elems == 8 * 1 * 9
    assert lay.macs == 10 * 10 * 8 * 1 * 9


def test_conv_depthwise_multiplier() -> None:
    lay = one("{type: conv, out: 16, kernel: 3, groups: depthwise, bias: false}",
              input="[8, 5, 5]")
    assert lay.groups == 8 and lay.out_shape == (16, 3, 3)
    assert lay.weight_elems == 16 * 1 * 9


def test_conv_output_size_helper() -> None:
    assert conv_output_size(224, 7, 2, 3) == 112
    assert conv_output_size(32, 3, 1, 0, dilation=2) == 28
    assert conv_output_size(2, 3, 1, 0) == 0


# --------------------------------------------------------------------------------------------
# fc, flatten


def test_fc_after_conv_flattens_implicitly() -> None:
    n = net("""
        - {name: c, type: conv, out: 16, kernel: 3, stride: 4, padding: 1}
        - {name: fc, type: fc, out: 10}
    """)
    c, fc = n.layers
    assert c.out_shape == (16, 8, 8)
    assert fc.family == FC and fc.is_compute
    assert fc.in_shapes == ((16, 8, 8),)
    assert fc.out_shape == (10, 1, 1)
    assert fc.weight_elems == 16 * 8 * 8 * 10 + 10
    assert fc.macs == 16 * 8 * 8 * 10
    assert n.total_params == c.weight_elems + fc.weight_elems
    assert n.total_macs == c.macs + fc.macs


def test_fc_without_bias_and_chain() -> None:
    n = net("""
        - {name: a, type: fc, out: 100, bias: false}
        - {name: b, type: fc, out: 10}
    """, input="[1, 28, 28]")
    a, b = n.layers
    assert a.weight_elems == 784 * 100 and a.macs == 784 * 100
    assert b.weight_elems == 100 * 10 + 10 and b.macs == 1000


def test_flatten() -> None:
    n = net("""
        - {name: c, type: conv, out: 16, kernel: 1}
        - {name: f, type: flatten}
        - {name: fc, type: fc, out: 5}
    """, input="[3, 4, 4]")
    f = n.layer("f")
    assert f.family == RESHAPE
    assert f.out_shape == (16 * 4 * 4, 1, 1)
    assert f.weight_elems == 0 and f.macs == 0
    assert n.layer("fc").weight_elems == 256 * 5 + 5


# --------------------------------------------------------------------------------------------
# pooling


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize(
    ("fields", "size", "expected"),
    [
        ("kernel: 2", 32, 16),  # stride defaults to the kernel
        ("kernel: 2, stride: 2", 33, 16),
        ("kernel: 3, stride: 2", 112, 55),
        ("kernel: 3, stride: 2, padding: 1", 112, 56),  # ResNet maxpool
        ("kernel: 3, stride: 1, padding: 1", 7, 7),
        ("kernel: 3, stride: 2, ceil_mode: true", 112, 56),  # GoogLeNet pools
        ("kernel: 3, stride: 2, ceil_mode: false", 112, 55),
        ("kernel: 2, stride: 2, ceil_mode: true", 33, 17),
        ("kernel: 3, stride: 2, ceil_mode: true", 56, 28),
        # PyTorch drops a last window that would start in the right padding
        ("kernel: 2, stride: 2, padding: 1, ceil_mode: true", 5, 3),
        ("kernel: 2, stride: 2, padding: 1, ceil_mode: false", 5, 3),
        ("kernel: 2, stride: 2, padding: 1, ceil_mode: true", 6, 4),
    ],
)
def test_pool_geometry(kind: str, fields: str, size: int, expected: int) -> None:
    lay = one(f"{{name: p, type: {kind}, {fields}}}", input=f"[5, {size}, {size}]")
    assert lay.family == POOL
    assert lay.out_shape == (5, expected, expected)
    assert lay.weight_elems == 0 and lay.macs == 0


@pytest.mark.parametrize("kind", ["globalavgpool", "globalmaxpool"])
def test_global_pool_types(kind: str) -> None:
    lay = one(f"{{name: g, type: {kind}}}", input="[64, 7, 9]")
    assert lay.family == POOL
    assert lay.out_shape == (64, 1, 1)
    assert lay.kernel == (7, 9)


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_global_flag(kind: str) -> None:
    lay = one(f"{{name: g, type: {kind}, global: true}}", input="[32, 13, 13]")
    assert lay.out_shape == (32, 1, 1) and lay.kernel == (13, 13)


@pytest.mark.parametrize(
    ("size", "target", "kernel"),
    [
        (14, 7, 2),
        (13, 6, 3),  # uneven: windows of ceil(13/6) = 3
        (7, 7, 1),
        (1, 7, 1),  # adaptive pooling can enlarge (torchvision VGG on small inputs)
    ],
)
def test_adaptive_pool(size: int, target: int, kernel: int) -> None:
    lay = one(f"{{name: a, type: avgpool, adaptive: [{target}, {target}]}}",
              input=f"[256, {size}, {size}]")
    assert lay.out_shape == (256, target, target)
    assert lay.kernel == (kernel, kernel)


def test_adaptive_pool_scalar_and_rectangular() -> None:
    assert one("{type: avgpool, adaptive: 1}", input="[8, 5, 6]").out_shape == (8, 1, 1)
    assert one("{type: maxpool, adaptive: [2, 3]}", input="[8, 8, 9]").out_shape == (8, 2, 3)


# --------------------------------------------------------------------------------------------
# normalisation, element-wise


def test_batchnorm_params() -> None:
    lay = one("{name: bn, type: batchnorm}", input="[64, 8, 8]")
    assert lay.family == NORM
    assert lay.out_shape == (64, 8, 8)
    assert lay.weight_elems == 2 * 64  # scale and shift; running stats are buffers
    assert lay.macs == 0
    assert one("{type: batchnorm, affine: false}", input="[64, 8, 8]").weight_elems == 0


def test_groupnorm() -> None:
    lay = one("{name: gn, type: groupnorm, groups: 4}", input="[16, 8, 8]")
    assert lay.family == NORM
    assert lay.out_shape == (16, 8, 8) and lay.weight_elems == 32 and lay.macs == 0
    assert one("{type: groupnorm}", input="[64, 2, 2]").weight_elems == 128  # 32 groups default
    with pytest.raises(InputError, match="must divide"):
        one("{type: groupnorm, groups: 5}", input="[16, 8, 8]")


def test_lrn() -> None:
    lay = one("{name: n, type: lrn, size: 5}", input="[96, 55, 55]")
    assert lay.family == NORM and lay.out_shape == (96, 55, 55) and lay.weight_elems == 0


@pytest.mark.parametrize("kind", ELTWISE_KINDS)
def test_elementwise_keeps_shape(kind: str) -> None:
    extra = ", p: 0.5" if kind == "dropout" else (", slope: 0.1" if kind == "leakyrelu" else "")
    lay = one(f"{{name: e, type: {kind}{extra}}}", input="[7, 5, 3]")
    assert lay.family == ELTWISE
    assert lay.out_shape == (7, 5, 3)
    assert lay.weight_elems == 0 and lay.macs == 0
    assert not lay.is_compute


# --------------------------------------------------------------------------------------------
# add, concat


def test_add() -> None:
    n = net("""
        - {name: a, type: conv, out: 16, kernel: 3, padding: 1}
        - {name: b, type: conv, out: 16, kernel: 1, input: input}
        - {name: c, type: conv, out: 16, kernel: 5, padding: 2, input: input}
        - {name: s, type: add, inputs: [a, b, c]}
    """)
    s = n.layer("s")
    assert s.family == ADD
    assert s.inputs == ("a", "b", "c")
    assert s.in_shapes == ((16, 32, 32),) * 3
    assert s.out_shape == (16, 32, 32)
    assert s.in_elems == 3 * 16 * 32 * 32
    assert s.weight_elems == 0 and s.macs == 0


def test_concat() -> None:
    n = net("""
        - {name: a, type: conv, out: 16, kernel: 3, padding: 1}
        - {name: b, type: conv, out: 8, kernel: 1, input: input}
        - {name: p, type: maxpool, kernel: 3, stride: 1, padding: 1, input: input}
        - {name: cat, type: concat, inputs: [a, b, p]}
    """)
    cat = n.layer("cat")
    assert cat.family == CONCAT
    assert cat.out_shape == (16 + 8 + 3, 32, 32)
    assert cat.weight_elems == 0


def test_aliases() -> None:
    n = net("""
        - {name: c, type: conv, out: 4, kernel: 1}
        - {name: b, type: bn}
        - {name: g, type: gn, groups: 2}
        - {name: p, type: pool, kernel: 2}
        - {name: s, type: sum, inputs: [p, p]}
        - {name: k, type: cat, inputs: [s, p]}
        - {name: l, type: linear, out: 3}
        - {name: d, type: dense, out: 2}
        - {name: r, type: ReLU}
    """, input="[3, 4, 4]")
    types = [lay.type for lay in n.layers]
    assert types == ["conv", "batchnorm", "groupnorm", "maxpool", "add", "concat", "fc", "fc",
                     "relu"]
    assert set(ALIASES.values()) <= set(TYPES)
    assert n.layer("k").out_shape == (8, 2, 2)


def test_every_layer_type_is_covered() -> None:
    assert set(TYPES) == COVERED, f"untested layer types: {set(TYPES) - COVERED}"


# --------------------------------------------------------------------------------------------
# references and ordering


def test_default_input_is_previous_and_explicit_input() -> None:
    n = net("""
        - {name: a, type: conv, out: 4, kernel: 1}
        - {name: b, type: relu}
        - {name: c, type: relu, input: input}
        - {name: d, type: relu, inputs: [a]}
    """)
    assert n.layer("b").inputs == ("a",)
    assert n.layer("c").inputs == (INPUT,)
    assert n.layer("d").inputs == ("a",)
    assert sorted(n.layers[i].name for i in n.outputs) == ["b", "c", "d"]


def test_forward_reference_is_sorted_topologically() -> None:
    n = net("""
        - {name: b, type: relu, input: a}
        - {name: a, type: conv, out: 4, kernel: 1, input: input}
    """)
    assert [lay.name for lay in n.layers] == ["a", "b"]
    assert n.producers == ((-1,), (0,))
    assert n.consumers == ((1,), ())


def test_auto_names() -> None:
    n = net("""
        - {type: conv, out: 4, kernel: 1}
        - {type: relu}
        - {type: relu}
    """)
    assert [lay.name for lay in n.layers] == ["conv1", "relu1", "relu2"]


def test_when_false_drops_a_top_level_layer() -> None:
    n = net("""
        - {name: a, type: conv, out: 4, kernel: 1}
        - {name: gone, type: relu, when: false}
        - {name: b, type: relu}
    """)
    assert [lay.name for lay in n.layers] == ["a", "b"]
    assert n.layer("b").inputs == ("a",)


# --------------------------------------------------------------------------------------------
# blocks

BASIC = """
basic:
  params: {out: 16, stride: 1}
  layers:
    - {name: conv, type: conv, out: $out, kernel: 3, stride: $stride, padding: 1}
    - {name: relu, type: relu}
    - {name: add, type: add, inputs: [relu, in], when: "${stride == 1}"}
"""


def test_block_repeat_args_first_when_and_in() -> None:
    n = net("""
        - {name: stage1, block: basic, repeat: 3, args: {out: 16}}
        - {name: stage2, block: basic, repeat: 2, args: {out: 32}, first: {stride: 2}}
        - {name: head, type: globalavgpool}
    """, input="[16, 8, 8]", blocks=BASIC)
    names = [lay.name for lay in n.layers]
    assert names == [
        "stage1.0.conv", "stage1.0.relu", "stage1.0.add",
        "stage1.1.conv", "stage1.1.relu", "stage1.1.add",
        "stage1.2.conv", "stage1.2.relu", "stage1.2.add",
        "stage2.0.conv", "stage2.0.relu",  # first: stride 2 -> 'when' drops the add
        "stage2.1.conv", "stage2.1.relu", "stage2.1.add",
        "head",
    ]
    assert n.layer("stage1.0.add").inputs == ("stage1.0.relu", INPUT)  # 'in' = block input
    assert n.layer("stage1.1.conv").inputs == ("stage1.0.add",)
    assert n.layer("stage1.1.add").inputs == ("stage1.1.relu", "stage1.0.add")
    assert n.layer("stage2.0.conv").inputs == ("stage1.2.add",)
    assert n.layer("stage2.0.conv").stride == (2, 2)
    assert n.layer("stage2.0.conv").out_shape == (32, 4, 4)
    assert n.layer("stage2.1.conv").stride == (1, 1)  # 'first' applies to repetition 0 only
    assert n.layer("stage2.1.add").inputs == ("stage2.1.relu", "stage2.0.relu")
    assert n.layer("head").inputs == ("stage2.1.add",)  # instance output = last layer
    assert n.layer("head").out_shape == (32, 1, 1)


def test_block_defaults_and_single_instance_names() -> None:
    n = net("""
        - {name: b, block: basic}
        - {name: after, type: relu, input: b}
    """, input="[16, 8, 8]", blocks=BASIC)
    assert [lay.name for lay in n.layers] == ["b.conv", "b.relu", "b.add", "after"]
    assert n.layer("b.conv").out_shape == (16, 8, 8)  # default out: 16
    assert n.layer("after").inputs == ("b.add",)  # referring to the instance = its output


def test_block_expressions() -> None:
    n = net("""
        - {name: x, block: wide, args: {width: 8}}
    """, input="[3, 8, 8]", blocks="""
        wide:
          params: {width: 4}
          layers:
            - {name: c1, type: conv, out: "${width * 4}", kernel: 1}
            - {name: c2, type: conv, out: "${width // 2 + 1}", kernel: "${1 if width < 8 else 3}"}
    """)
    assert n.layer("x.c1").out_shape == (32, 8, 8)
    assert n.layer("x.c2").out_shape == (5, 6, 6)
    assert n.layer("x.c2").kernel == (3, 3)


NESTED = """
inner:
  params: {c: 8}
  layers:
    - {name: conv, type: conv, out: $c, kernel: 1}
    - {name: bn, type: bn}
outer:
  params: {c: 8}
  layers:
    - {name: a, block: inner, args: {c: $c}}
    - {name: b, block: inner, args: {c: "${c * 2}"}}
    - {name: cat, type: concat, inputs: [a, b]}
"""


def test_nested_blocks_and_dotted_references() -> None:
    n = net("""
        - {name: o, block: outer, repeat: 2, args: {c: 4}}
        - {name: side, type: relu, input: o.0.a.conv}
        - {name: tail, type: concat, inputs: [o, side]}
    """, input="[3, 8, 8]", blocks=NESTED)
    names = [lay.name for lay in n.layers]
    for rep in (0, 1):
        for part in ("a.conv", "a.bn", "b.conv", "b.bn", "cat"):
            assert f"o.{rep}.{part}" in names
    assert n.layer("o.0.a.conv").inputs == (INPUT,)
    assert n.layer("o.0.b.conv").inputs == ("o.0.a.bn",)  # next instance reads the previous
    assert n.layer("o.0.cat").inputs == ("o.0.a.bn", "o.0.b.bn")  # instance names inside block
    assert n.layer("o.0.cat").out_shape == (4 + 8, 8, 8)
    assert n.layer("o.1.a.conv").inputs == ("o.0.cat",)
    assert n.layer("side").inputs == ("o.0.a.conv",)  # full dotted name from top level
    assert n.layer("tail").inputs == ("o.1.cat", "side")
    assert n.layer("tail").out_shape == (12 + 4, 8, 8)
    # params of the inner 1x1 convs: 3->4, 4->8 | 12->4, 4->8 (+ bias), and 4 batchnorms
    convs = (3 * 4 + 4) + (4 * 8 + 8) + (12 * 4 + 4) + (4 * 8 + 8)
    bns = 2 * (4 + 8 + 4 + 8)
    assert n.total_params == convs + bns


def test_block_output_field() -> None:
    n = net("""
        - {name: t, block: two}
        - {name: after, type: relu}
    """, input="[3, 4, 4]", blocks="""
        two:
          output: first
          layers:
            - {name: first, type: conv, out: 4, kernel: 1}
            - {name: second, type: conv, out: 8, kernel: 1}
    """)
    assert n.layer("after").inputs == ("t.first",)
    assert n.layer("after").out_shape == (4, 4, 4)


def test_block_instance_input_and_when() -> None:
    n = net("""
        - {name: stem, type: conv, out: 16, kernel: 1}
        - {name: other, type: conv, out: 16, kernel: 1, input: input}
        - {name: b, block: basic, input: stem}
        - {name: skipped, block: basic, when: false}
    """, input="[3, 8, 8]", blocks=BASIC)
    assert n.layer("b.conv").inputs == ("stem",)
    assert n.layer("b.add").inputs == ("b.relu", "stem")
    assert not any(lay.name.startswith("skipped") for lay in n.layers)


def test_real_network_bottleneck_counts() -> None:
    """The ResNet bottleneck pattern: downsample branch selected by a parameter expression."""
    n = net("""
        - {name: l, block: bottleneck, repeat: 2, args: {width: 4}, first: {downsample: true}}
    """, input="[8, 6, 6]", blocks="""
        bottleneck:
          params: {width: 4, downsample: false}
          layers:
            - {name: conv1, type: conv, out: $width, kernel: 1, bias: false}
            - {name: conv2, type: conv, out: "${width * 4}", kernel: 1, bias: false}
            - {name: ds, type: conv, input: in, out: "${width * 4}", kernel: 1, bias: false,
               when: $downsample}
            - {name: add, type: add, inputs: [conv2, "${'ds' if downsample else 'in'}"]}
    """)
    assert n.layer("l.0.add").inputs == ("l.0.conv2", "l.0.ds")
    assert n.layer("l.1.add").inputs == ("l.1.conv2", "l.0.add")
    assert "l.1.ds" not in [lay.name for lay in n.layers]
    assert n.layer("l.0.ds").weight_elems == 8 * 16
    assert n.total_params == (8 * 4 + 4 * 16 + 8 * 16) + (16 * 4 + 4 * 16)


# --------------------------------------------------------------------------------------------
# layer types of today's CNNs (issue 13), hand counts in the comments


def test_asymmetric_padding_conv_and_pool() -> None:
    # 32 + 0 + 1 - 3 = 30 // 2 + 1 = 16 rows; 32 + 1 + 1 - 3 = 31 // 2 + 1 = 16 cols
    c = one("{name: c, type: conv, out: 8, kernel: 3, stride: 2, padding: [0, 1, 1, 1]}")
    assert c.out_shape == (8, 16, 16)
    assert c.padding == (0, 1) and c.padding_end == (1, 1)
    assert c.macs == 16 * 16 * 8 * 3 * 9 and c.weight_elems == 8 * 3 * 9 + 8
    # (33 + 0 + 1 - 2) // 2 + 1 = 17 with the extra bottom/right row
    p = one("{name: p, type: maxpool, kernel: 2, stride: 2, padding: [0, 0, 1, 1]}",
            input="[3, 33, 33]")
    assert p.out_shape == (3, 17, 17)
    with pytest.raises(InputError, match="four integers"):
        one("{name: c, type: conv, out: 8, kernel: 3, padding: [0, 1, -1, 1]}")


def test_ceil_mode_pool() -> None:
    # 56: (56 - 3) / 2 = 26.5 -> floor 27 rows, ceil 28
    assert one("{name: p, type: maxpool, kernel: 3, stride: 2}",
               input="[4, 56, 56]").out_shape == (4, 27, 27)
    assert one("{name: p, type: maxpool, kernel: 3, stride: 2, ceil_mode: true}",
               input="[4, 56, 56]").out_shape == (4, 28, 28)


def test_convtranspose_counts() -> None:
    # (16 - 1) * 2 - 2 + 4 = 32; every input pixel scatters a 4x4x8 window: 16*16*3*8*16 MACs
    t = one("{name: t, type: convtranspose, out: 8, kernel: 4, stride: 2, padding: 1}",
            input="[3, 16, 16]")
    assert t.family == CONV and t.is_compute
    assert t.out_shape == (8, 32, 32)
    assert t.weight_elems == 3 * 8 * 16 + 8
    assert t.macs == 16 * 16 * 3 * 8 * 16
    # output_padding: (16 - 1) * 2 + 2 + 1 = 33
    assert one("{name: t, type: convtranspose, out: 4, kernel: 2, stride: 2, output_padding: 1,"
               " bias: false}", input="[3, 16, 16]").out_shape == (4, 33, 33)


def test_convtranspose_gconvs_are_the_swapped_conv_passes() -> None:
    from cnnmem.model.gconv import layer_gconvs
    t = one("{name: t, type: convtranspose, out: 8, kernel: 4, stride: 2, padding: 1}",
            input="[3, 16, 16]")
    g = {x.pass_name: x for x in layer_gconvs(t, 0)}
    assert [x.pass_name for x in layer_gconvs(t, 0)] == ["forward", "dgrad", "wgrad"]
    assert all(x.macs_per_sample == t.macs for x in g.values())
    # forward reads the 3x16x16 input and writes the 8x32x32 output
    assert g["forward"].a_elems == 3 * 16 * 16 and g["forward"].out_elems == 8 * 32 * 32
    assert g["forward"].a_kind == "activation" and g["dgrad"].a_kind == "gradient"
    assert g["dgrad"].a_elems == 8 * 32 * 32 and g["dgrad"].out_elems == 3 * 16 * 16


def test_resize() -> None:
    r = one("{name: r, type: upsample, scale: 2}", input="[4, 8, 8]")
    assert r.type == "resize" and r.out_shape == (4, 16, 16) and r.weight_elems == 0
    assert one("{name: r, type: resize, size: [15, 9], mode: bilinear}",
               input="[4, 8, 8]").out_shape == (4, 15, 9)
    with pytest.raises(InputError, match="exactly one"):
        one("{name: r, type: resize}")
    with pytest.raises(InputError, match="nearest or bilinear"):
        one("{name: r, type: resize, scale: 2, mode: cubic}")


def test_channelshuffle_and_slice() -> None:
    s = one("{name: s, type: channelshuffle, groups: 2}", input="[8, 4, 4]")
    assert s.out_shape == (8, 4, 4) and s.weight_elems == 0 and s.macs == 0
    with pytest.raises(InputError, match="divide"):
        one("{name: s, type: channelshuffle, groups: 3}", input="[8, 4, 4]")
    n = net("""
        - {name: a, type: slice, start: 0, end: 3}
        - {name: b, type: split, start: 3, input: input}
        - {name: h, type: slice, axis: height, start: 1, end: 3, input: input}
    """, input="[8, 4, 4]")
    assert [lay.out_shape for lay in n.layers] == [(3, 4, 4), (5, 4, 4), (8, 2, 4)]
    with pytest.raises(InputError, match="empty or outside"):
        one("{name: a, type: slice, start: 4, end: 9}", input="[8, 4, 4]")


def test_broadcast_mul_and_add_squeeze_excitation() -> None:
    n = net("""
        - {name: c, type: conv, out: 16, kernel: 3, padding: 1}
        - {name: sq, type: globalavgpool}
        - {name: fc1, type: conv, out: 4, kernel: 1}
        - {name: relu, type: relu}
        - {name: fc2, type: conv, out: 16, kernel: 1}
        - {name: gate, type: hardsigmoid}
        - {name: scale, type: mul, inputs: [c, gate]}
        - {name: shift, type: add, inputs: [scale, gate]}
    """)
    assert n.layer("scale").out_shape == (16, 32, 32)
    assert n.layer("scale").family == ADD and n.layer("shift").out_shape == (16, 32, 32)
    # SE weights: 16*4 + 4 + 4*16 + 16
    assert n.layer("fc1").weight_elems + n.layer("fc2").weight_elems == 16 * 4 + 4 + 4 * 16 + 16
    with pytest.raises(InputError, match="different shapes"):
        net("""
            - {name: c, type: conv, out: 16, kernel: 1}
            - {name: d, type: conv, out: 8, kernel: 1, input: input}
            - {name: m, type: mul, inputs: [c, d]}
        """)


def test_clip_and_new_activations() -> None:
    for t in ("clip", "hardswish", "silu", "sigmoid"):
        lay = one(f"{{name: a, type: {t}}}")
        assert lay.family == ELTWISE and lay.out_shape == (3, 32, 32) and lay.weight_elems == 0


def test_every_type_has_a_behaviour_record_and_unknown_types_fail() -> None:
    from cnnmem.workload.layers import behaviour_of
    for t in TYPES:
        b = behaviour_of(t)
        assert (b.role == "compute") == (TYPES[t].family in (CONV, FC))
    with pytest.raises(KeyError):
        behaviour_of("warp")


def test_expression_functions_make_divisible() -> None:
    n = net("""
        - {name: m1, block: mb, args: {c: 24, w: 0.75}}
        - {name: m2, block: mb, args: {c: 16, w: 0.35}}
    """, blocks="""
        mb:
          params: {c: 8, w: 1.0}
          layers:
            - {type: conv, out: "${max(8, int(c * w + 4) // 8 * 8)}", kernel: 1}
            - {type: conv, out: "${ceil(c * w / 2) + floor(w) + round(2.4) + min(c, 1)}",
               kernel: 1}
    """)
    assert [lay.out_channels for lay in n.layers] == [16, 9 + 0 + 2 + 1, 8, 3 + 0 + 2 + 1]
