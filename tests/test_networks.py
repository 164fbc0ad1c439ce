"""The built-in network library (networks/*.yaml): reference counts, CLI listing, structure."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cnnmem.cli import cli
from cnnmem.workload.library import NETWORKS_DIR, builtin_networks
from cnnmem.workload.loader import load_network_file, reference_of
from cnnmem.workload.network import Network

NETWORK_FILES = sorted(NETWORKS_DIR.glob("*.yaml"))
MAC_TOLERANCE = 0.01  # published GMACs are rounded; 1% covers rounding and counting conventions

#: The library this suite expects at least (more files are checked too, via NETWORK_FILES).
EXPECTED = {
    "lenet5", "alexnet", "alexnet_caffe", "vgg11", "vgg16", "vgg19", "resnet50", "resnet101",
    "resnet152", "googlenet", "inception_v3", "inception_v4", "densenet121", "mobilenet_v2",
    "unet", "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2",
}


def _load(name: str) -> Network:
    return load_network_file(NETWORKS_DIR / f"{name}.yaml")


def _output_names(net: Network) -> list[str]:
    return sorted(net.layers[i].name for i in net.outputs)


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def test_library_is_complete() -> None:
    assert EXPECTED <= set(builtin_networks())


@pytest.mark.parametrize("path", NETWORK_FILES, ids=lambda p: p.stem)
def test_reference_counts(path: Path) -> None:
    ref = reference_of(path)
    assert {"params", "gmacs", "source"} <= set(ref), f"{path.name}: incomplete reference"
    net = load_network_file(path)
    assert net.total_params == ref["params"]
    published = ref["gmacs"] * 1e9
    # a published figure rounded to d decimals (0.39) stands for anything within half a unit of
    # its last digit (0.385..0.395); the tolerance is the larger of that and MAC_TOLERANCE
    decimals = len(repr(float(ref["gmacs"])).split(".")[1].rstrip("0"))
    rounding = 0.5 * 10.0 ** (-decimals) * 1e9
    assert abs(net.total_macs - published) <= max(MAC_TOLERANCE * published, rounding), (
        f"{path.name}: {net.total_macs / 1e9:.4f} GMACs vs published {ref['gmacs']}"
    )


@pytest.mark.parametrize("path", NETWORK_FILES, ids=lambda p: p.stem)
def test_documented_and_named_after_file(path: Path) -> None:
    net = load_network_file(path)
    assert net.name == path.stem
    assert net.description and net.source


def test_networks_command_lists_every_builtin() -> None:
    result = CliRunner().invoke(cli, ["networks", "--format", "csv"])
    assert result.exit_code == 0, result.output
    df = _csv(result.output)
    assert sorted(df["network"]) == builtin_networks()
    for row in df.itertuples():
        assert row.params == reference_of(NETWORKS_DIR / f"{row.network}.yaml")["params"]


def test_show_resnet50_csv_totals() -> None:
    result = CliRunner().invoke(cli, ["show", "resnet50", "--format", "csv"])
    assert result.exit_code == 0, result.output
    df = _csv(result.output)
    total = df[df["layer"] == "TOTAL"].iloc[0]
    assert int(total["params"]) == 25_557_032
    assert int(total["params"]) == int(df[df["layer"] != "TOTAL"]["params"].sum())


def test_single_output_except_inception_v3() -> None:
    for name in sorted(EXPECTED - {"inception_v3"}):
        net = _load(name)
        assert len(net.outputs) == 1, f"{name}: outputs {_output_names(net)}"


def test_inception_v3_has_aux_output() -> None:
    net = _load("inception_v3")
    assert _output_names(net) == ["AuxLogits.fc", "fc"]
    assert net.layer("AuxLogits.avg_pool").inputs == ("Mixed_6e.cat",)
    assert net.layer("Mixed_6e.cat").out_shape == (768, 17, 17)
    assert net.layer("Mixed_7c.cat").out_shape == (2048, 8, 8)
    aux = sum(lay.weight_elems for lay in net.layers if lay.name.startswith("AuxLogits."))
    assert net.total_params - aux == 23_834_568  # torchvision with aux_logits=False


def test_inception_v4_stages() -> None:
    net = _load("inception_v4")
    shapes = {
        "mixed_3a.cat": (160, 73, 73),
        "mixed_5a.cat": (384, 35, 35),
        "reduction_a.cat": (1024, 17, 17),
        "reduction_b.cat": (1536, 8, 8),
        "inception_c.2.cat": (1536, 8, 8),
    }
    for name, shape in shapes.items():
        assert net.layer(name).out_shape == shape, name


def test_googlenet_inception_widths() -> None:
    net = _load("googlenet")
    assert net.layer("inception3a.cat").out_shape == (256, 28, 28)
    assert net.layer("inception4e.cat").out_shape == (832, 14, 14)
    assert net.layer("inception5b.cat").out_shape == (1024, 7, 7)
    assert net.layer("inception3a.branch3_1.conv").kernel == (3, 3)  # torchvision's "5x5"


def test_densenet121_channel_counts() -> None:
    net = _load("densenet121")
    channels = {
        "pool0": 64,
        "denseblock1.5.cat": 256,
        "transition1.pool": 128,
        "denseblock2.11.cat": 512,
        "transition2.pool": 256,
        "denseblock3.23.cat": 1024,
        "transition3.pool": 512,
        "denseblock4.15.cat": 1024,
    }
    assert {name: net.layer(name).out_channels for name in channels} == channels
    assert net.layer("denseblock4.15.cat").out_shape == (1024, 7, 7)


def test_mobilenet_v2_structure() -> None:
    net = _load("mobilenet_v2")
    assert net.layer("relu_last").out_shape == (1280, 7, 7)
    adds = [lay for lay in net.layers if lay.type == "add"]
    assert len(adds) == 10  # stride 1 and in == out: 1 + 2 + 3 + 2 + 2
    dw = [lay for lay in net.layers if lay.name.endswith(".dw")]
    assert len(dw) == 17 and all(lay.groups == lay.in_channels for lay in dw)


def test_alexnet_caffe_groups_and_lrn() -> None:
    net = _load("alexnet_caffe")
    assert {lay.name for lay in net.layers if lay.groups == 2} == {"conv2", "conv4", "conv5"}
    assert [lay.name for lay in net.layers if lay.type == "lrn"] == ["norm1", "norm2"]
    assert net.layer("pool5").out_shape == (256, 6, 6)


def test_resnet_depths() -> None:
    for name, blocks in (("resnet50", 16), ("resnet101", 33), ("resnet152", 50)):
        net = _load(name)
        adds = [lay for lay in net.layers if lay.type == "add"]
        convs = [lay for lay in net.layers if lay.type == "conv" and "downsample" not in lay.name]
        assert len(adds) == blocks
        assert len(convs) + 1 == int(name.removeprefix("resnet"))  # + the fc layer


def test_vgg_depths() -> None:
    for name in ("vgg11", "vgg16", "vgg19"):
        net = _load(name)
        weighted = [lay for lay in net.layers if lay.is_compute]
        assert len(weighted) == int(name.removeprefix("vgg"))
        assert net.layer("pool5").out_shape == (512, 7, 7)


def test_lenet5_shapes() -> None:
    net = _load("lenet5")
    assert net.layer("pool2").out_shape == (16, 5, 5)
    assert net.layer("fc3").out_shape == (10, 1, 1)


def test_new_library_networks_use_the_new_layer_types() -> None:
    """U-Net: transposed convs and cropped (sliced) skips; MobileNetV3 / EfficientNet:
    squeeze-and-excitation multiplies; ShuffleNetV2: channel split and shuffle."""
    def types(name: str) -> set[str]:
        return {lay.type for lay in _load(name).layers}
    unet = _load("unet")
    assert {"convtranspose", "slice", "concat"} <= types("unet")
    assert unet.layers[-1].out_shape == (2, 388, 388)  # the paper's output map
    assert {"mul", "hardswish", "hardsigmoid"} <= types("mobilenet_v3_small")
    assert {"mul", "silu", "sigmoid"} <= types("efficientnet_b0")
    assert {"slice", "channelshuffle"} <= types("shufflenet_v2")
    se = _load("efficientnet_b0").layer("stage2.0.se_scale")
    assert se.in_shapes == ((96, 56, 56), (96, 1, 1))
