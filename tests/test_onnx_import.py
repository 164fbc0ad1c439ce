"""ONNX import: graphs built with onnx.helper for each op (shapes, params, MACs against hand
counts), the real CNNs shipped inside the onnx wheel, the CLI and the missing-extra error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cnnmem.cli import cli, main
from cnnmem.errors import InputError
from cnnmem.workload import load_network

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed "
                                          "(pip install 'cnnmem[onnx]')")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cnnmem.workload.onnx_import import (  # noqa: E402
    import_model,
    load_onnx_network,
    network_of,
    to_yaml,
)

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
WHEEL_MODELS = ["bvlc_alexnet", "zfnet512", "vgg19", "squeezenet", "inception_v1", "shufflenet",
                "resnet50", "inception_v2", "densenet121"]


def weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def model(nodes: list, inits: list, in_shape: tuple[int, ...] = (1, 3, 16, 16),
          out: str = "y") -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     list(in_shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])


def net_of(m: onnx.ModelProto, **kw):
    return network_of(import_model(m, "m.onnx", **kw), "m.onnx")


# --------------------------------------------------------------------------------------------
# one graph per op, hand counts


def test_conv_asymmetric_pads_and_ceil_mode_pool() -> None:
    m = model([helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3],
                                strides=[2, 2], pads=[0, 0, 1, 1], name="conv"),
               helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                ceil_mode=1, name="pool")],
              [weight("w", 8, 3, 3, 3), weight("b", 8)])
    n = net_of(m)
    conv, pool = n.layers
    # (16 + 0 + 1 - 3) // 2 + 1 = 8; ceil((8 - 3) / 2) + 1 = 4
    assert conv.out_shape == (8, 8, 8) and pool.out_shape == (8, 4, 4)
    assert conv.padding == (0, 0) and conv.padding_end == (1, 1)
    assert conv.weight_elems == 8 * 3 * 9 + 8 and conv.macs == 8 * 8 * 8 * 3 * 9


def test_pad_node_merged_into_the_conv_padding() -> None:
    pads = numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 2, 1], np.int64), "pads")
    m = model([helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
               helper.make_node("Conv", ["p", "w"], ["y"], kernel_shape=[3, 3], name="conv")],
              [weight("w", 4, 3, 3, 3), pads])
    (conv,) = net_of(m).layers
    # rows 16 + 1 + 2 - 3 + 1 = 17, cols 16 + 0 + 1 - 3 + 1 = 15
    assert conv.out_shape == (4, 17, 15)
    assert conv.padding == (1, 0) and conv.padding_end == (2, 1)
    assert conv.macs == 17 * 15 * 4 * 27


def test_convtranspose() -> None:
    m = model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[2, 2],
                                strides=[2, 2], name="up")], [weight("w", 3, 5, 2, 2)])
    (t,) = net_of(m).layers
    assert t.type == "convtranspose" and t.out_shape == (5, 32, 32)
    assert t.weight_elems == 3 * 5 * 4 and t.macs == 16 * 16 * 3 * 5 * 4


@pytest.mark.parametrize("mode,want", [("nearest", "nearest"), ("linear", "bilinear")])
def test_resize(mode: str, want: str) -> None:
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")
    m = model([helper.make_node("Resize", ["x", "", "s"], ["y"], mode=mode, name="up")],
              [scales])
    (r,) = net_of(m).layers
    assert r.type == "resize" and r.out_shape == (3, 32, 32) and r.weight_elems == r.macs == 0
    assert import_model(m, "m.onnx").data["layers"][0]["mode"] == want


def test_channel_shuffle_pattern() -> None:
    shape1 = numpy_helper.from_array(np.array([1, 2, 4, 16, 16], np.int64), "s1")
    shape2 = numpy_helper.from_array(np.array([1, 8, 16, 16], np.int64), "s2")
    m = model([helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1], name="conv"),
               helper.make_node("Reshape", ["c", "s1"], ["r1"], name="shuffle"),
               helper.make_node("Transpose", ["r1"], ["t"], perm=[0, 2, 1, 3, 4]),
               helper.make_node("Reshape", ["t", "s2"], ["y"])],
              [weight("w", 8, 3, 1, 1), shape1, shape2])
    conv, shuffle = net_of(m).layers
    assert shuffle.type == "channelshuffle" and shuffle.groups == 2
    assert shuffle.out_shape == (8, 16, 16)


def test_squeeze_excitation_with_hardswish_and_silu() -> None:
    m = model([
        helper.make_node("Conv", ["x", "w0"], ["c"], kernel_shape=[1, 1], name="conv"),
        helper.make_node("HardSwish", ["c"], ["h"], name="hswish"),
        helper.make_node("GlobalAveragePool", ["h"], ["p"], name="squeeze"),
        helper.make_node("Conv", ["p", "w1", "b1"], ["f1"], kernel_shape=[1, 1], name="fc1"),
        helper.make_node("Relu", ["f1"], ["r"], name="relu"),
        helper.make_node("Conv", ["r", "w2", "b2"], ["f2"], kernel_shape=[1, 1], name="fc2"),
        helper.make_node("Sigmoid", ["f2"], ["g"], name="gate"),
        helper.make_node("Mul", ["h", "g"], ["e"], name="excite"),
        helper.make_node("Sigmoid", ["e"], ["sg"], name="silu_gate"),
        helper.make_node("Mul", ["e", "sg"], ["y"], name="silu"),
    ], [weight("w0", 16, 3, 1, 1), weight("w1", 4, 16, 1, 1), weight("b1", 4),
        weight("w2", 16, 4, 1, 1), weight("b2", 16)])
    n = net_of(m)
    assert n.layer("excite").type == "mul"
    assert n.layer("excite").in_shapes == ((16, 16, 16), (16, 1, 1))
    assert n.layer("silu").out_shape == (16, 16, 16)
    assert n.total_params == 16 * 3 + (16 * 4 + 4) + (4 * 16 + 16)
    assert n.total_macs == 16 * 16 * 16 * 3 + 16 * 4 + 4 * 16


def test_gemm_matmul_flatten_clip_sum_and_constants_as_weights() -> None:
    const_w = helper.make_node("Constant", [], ["wc"], value=numpy_helper.from_array(
        np.zeros((768, 10), np.float32)))
    shape_of_w = numpy_helper.from_array(np.array([768, 10], np.int64), "wshape")
    m = model([
        helper.make_node("Clip", ["x"], ["k"], name="clip"),
        helper.make_node("Flatten", ["k"], ["f"], axis=1, name="flat"),
        const_w,
        helper.make_node("MatMul", ["f", "wc"], ["m1"], name="mm"),
        helper.make_node("ConstantOfShape", ["wshape"], ["wz"]),
        helper.make_node("MatMul", ["f", "wz"], ["m2"], name="mm2"),
        helper.make_node("Sum", ["m1", "m2"], ["s"], name="sum"),
        helper.make_node("Gemm", ["s", "wg", "bg"], ["y"], transB=1, name="gemm"),
    ], [weight("wg", 4, 10), weight("bg", 4), shape_of_w])
    n = net_of(m)
    assert [lay.type for lay in n.layers] == ["clip", "flatten", "fc", "fc", "add", "fc"]
    assert n.layer("mm").weight_elems == 768 * 10 and not n.layer("mm").bias
    assert n.layer("gemm").weight_elems == 10 * 4 + 4 and n.layer("gemm").macs == 40
    assert n.total_macs == 2 * 768 * 10 + 40


def test_split_slice_reducemean() -> None:
    split = numpy_helper.from_array(np.array([1, 2], np.int64), "split")
    starts = numpy_helper.from_array(np.array([4], np.int64), "st")
    ends = numpy_helper.from_array(np.array([12], np.int64), "en")
    axes = numpy_helper.from_array(np.array([2], np.int64), "ax")
    m = model([
        helper.make_node("Split", ["x", "split"], ["a", "b"], axis=1, name="split"),
        helper.make_node("Slice", ["b", "st", "en", "ax"], ["s"], name="rows"),
        helper.make_node("ReduceMean", ["s"], ["r"], axes=[2, 3], keepdims=1, name="mean"),
        helper.make_node("Relu", ["a"], ["y"], name="relu_a"),
        helper.make_node("Concat", ["r", "r"], ["y2"], axis=1, name="cat"),
    ], [split, starts, ends, axes])
    n = net_of(m)
    shapes = {lay.name: lay.out_shape for lay in n.layers}
    assert shapes["a"] == (1, 16, 16) and shapes["b"] == (2, 16, 16)
    assert shapes["rows"] == (2, 8, 16) and n.layer("rows").type == "slice"
    assert shapes["mean"] == (2, 1, 1) and n.layer("mean").type == "globalavgpool"


def test_instance_norm_as_groupnorm_and_unmappable_op_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = model([helper.make_node("InstanceNormalization", ["x", "g", "b"], ["y"], name="inorm")],
              [weight("g", 3), weight("b", 3)])
    (norm,) = net_of(m).layers
    assert norm.type == "groupnorm" and norm.weight_elems == 2 * 3
    bad = model([helper.make_node("Erf", ["x"], ["y"], name="weird")], [])
    path = tmp_path / "bad.onnx"
    onnx.save(bad, str(path))
    out = tmp_path / "bad.yaml"
    with pytest.raises(SystemExit) as exit_info:
        main(["import", str(path), "-o", str(out)])
    assert exit_info.value.code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "node 'weird' (Erf)" in err


def test_dropout_identity_folded_with_a_note() -> None:
    m = model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
               helper.make_node("Dropout", ["r"], ["d"], name="drop"),
               helper.make_node("Identity", ["d"], ["i"], name="id"),
               helper.make_node("Sigmoid", ["i"], ["y"], name="sig")], [])
    res = import_model(m, "m.onnx")
    assert [lay["type"] for lay in res.data["layers"]] == ["relu", "sigmoid"]
    assert any("drop" in note for note in res.notes) and any("'id'" in n for n in res.notes)


def test_unmappable_op_names_node_op_and_how_to_proceed() -> None:
    m = model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
               helper.make_node("Erf", ["r"], ["y"], name="weird")], [])
    with pytest.raises(InputError, match=r"node 'weird' \(Erf\).*write the network YAML"):
        import_model(m, "m.onnx")


def test_eval_mode_folded_batchnorm_detected_and_restored() -> None:
    m = model([helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3],
                                pads=[1, 1, 1, 1], name="conv"),
               helper.make_node("Relu", ["c"], ["y"], name="relu")],
              [weight("w", 8, 3, 3, 3), weight("b", 8)])
    res = import_model(m, "m.onnx")
    assert any("BatchNorm was folded" in note for note in res.notes)
    n = net_of(m, restore_norm=True)
    assert [lay.type for lay in n.layers] == ["conv", "batchnorm", "relu"]
    # the conv loses its bias (8) and the norm gains 2 x 8 affine parameters
    assert n.layers[0].weight_elems == 8 * 27 and n.total_params == 8 * 27 + 16


# --------------------------------------------------------------------------------------------
# the real CNNs inside the onnx wheel


@pytest.mark.parametrize("name", WHEEL_MODELS)
def test_wheel_model_imports_and_runs_every_kind_of_strategy(name: str) -> None:
    from cnnmem.hardware import load_hardware
    from cnnmem.model.schedule import run_strategy
    net = load_onnx_network(LIGHT / f"light_{name}.onnx")
    assert net.total_macs > 0 and net.total_params > 0
    hw = load_hardware("occam_chip")
    for strategy, mode in (("layerwise", "training"), ("layerwise", "inference"),
                           ("mbs-optimal", "training"), ("occam", "inference")):
        _, result = run_strategy(strategy, net, hw, mode=mode, batch=2)
        assert result.totals["dram_bytes"] > 0


@pytest.mark.parametrize("name,builtin", [("resnet50", "resnet50"), ("vgg19", "vgg19"),
                                          ("densenet121", "densenet121")])
def test_wheel_model_counts_equal_builtin(name: str, builtin: str) -> None:
    imported = load_onnx_network(LIGHT / f"light_{name}.onnx")
    ref = load_network(builtin)
    assert (imported.total_params, imported.total_macs) == (ref.total_params, ref.total_macs)


def test_wheel_alexnet_equals_alexnet_caffe_at_its_input_size() -> None:
    """The ONNX zoo's bvlc_alexnet declares a 224x224 input where Caffe's deploy.prototxt (and
    the built-in alexnet_caffe) uses 227x227: parameters are equal as imported, MACs differ
    (conv1 gives 54x54 instead of 55x55). With the input set to 227 both are equal."""
    ref = load_network("alexnet_caffe")
    m = onnx.load(str(LIGHT / "light_bvlc_alexnet.onnx"))
    as_shipped = net_of(m)
    assert as_shipped.total_params == ref.total_params
    assert as_shipped.input_shape == (3, 224, 224) and as_shipped.total_macs != ref.total_macs
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = 227
    for vi in list(m.graph.value_info):  # stale shapes from the export
        m.graph.value_info.remove(vi)
    at_227 = net_of(m)
    assert (at_227.total_params, at_227.total_macs) == (ref.total_params, ref.total_macs)


def test_cli_import_writes_yaml_that_loads_to_the_same_network(tmp_path: Path) -> None:
    src = LIGHT / "light_squeezenet.onnx"
    out = tmp_path / "squeezenet.yaml"
    result = CliRunner().invoke(cli, ["import", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "# -> [" in text  # shapes as comments
    from_yaml, direct = load_network(out), load_onnx_network(src)
    assert [lay.out_shape for lay in from_yaml.layers] == [lay.out_shape for lay in direct.layers]
    assert (from_yaml.total_params, from_yaml.total_macs) == (direct.total_params,
                                                              direct.total_macs)
    again = to_yaml(import_model(onnx.load(str(src)), str(src)))
    assert again == text  # same input, byte-identical output


def test_cli_schedule_accepts_onnx_path() -> None:
    result = CliRunner().invoke(cli, ["schedule", str(LIGHT / "light_zfnet512.onnx"), "--hw",
                                       "occam_chip", "--strategy", "occam", "--totals",
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "dram_bytes" in result.output
