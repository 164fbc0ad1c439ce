"""The whole-network training lower bounds (issue 18): pebbling search and every strategy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from netgen import small_nets

from cnnmem.hardware import load_hardware
from cnnmem.model.mbs import _needs as mbs_needs
from cnnmem.model.pebbling import (
    TinyChain,
    TinyLayer,
    build_graph,
    chain_terms,
    min_capacity_bytes,
    optimal_traffic,
)
from cnnmem.model.precision import Precision
from cnnmem.model.schedule import TRAINING, SweepRequest, strategies, sweep_evaluators
from cnnmem.model.training_bound import (
    TrainingTerms,
    backward_needs,
    network_training_bound_bytes,
    training_bound_bytes,
    training_terms,
)
from cnnmem.workload import load_network, load_network_text

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much])
CAPS = np.geomspace(2.0**8, 2.0**22, 15)
WAVECORE = load_hardware("wavecore")
SPLIT_HW = load_hardware("tnpu")
TNPU_FAMILY = {"tnpu", "dnpu-like", "dadiannao-like"}


# ------------------------------------------------------------------------------------------
# The formula


def test_terms_of_a_hand_computed_chain() -> None:
    """conv(3->4 ch) - relu - conv(4->2) - relu on a 3x2x2 input, 2 bytes per element."""
    net = load_network_text(
        "name: t\ninput: [3, 2, 2]\nlayers:\n"
        "  - {name: c1, type: conv, out: 4, kernel: 1, bias: false}\n"
        "  - {name: r1, type: relu}\n"
        "  - {name: c2, type: conv, out: 2, kernel: 1, bias: false}\n"
        "  - {name: r2, type: relu}\n")
    t = training_terms(net, Precision.uniform(2))
    # c1 needs the input (its wgrad); r1's dgrad is needed (c1 upstream): its output 16 elems;
    # c2 needs r1's output (the same tensor); r2 needs its output 8 elems
    assert t.stash_input_bytes == 12 * 2 and t.input_bytes == 12 * 2
    assert t.stash_activation_bytes == (16 + 8) * 2
    assert t.weight_bytes == (12 + 8) * 2 == t.weight_gradient_bytes
    assert t.backward_weight_bytes == 8 * 2  # c2's dgrad reads its weights, c1's is not needed
    # E = 48 + 24 + 16 - M; at M = 0: weights 16 once, input 24 per sample, activations 2 x 48
    b = training_bound_bytes(t, [1, 3], [0.0, 40.0, 88.0, 1e9])
    c = np.array([[24 + 80], [72 + 80]])
    assert np.allclose(b, c + np.array([[16 + 24 + 96, 16 + 24 + 16, 0, 0],
                                        [16 + 72 + 288, 16 + 72 + 48, 0, 0]]))
    rc = training_bound_bytes(t, [1, 3], [0.0, 20.0, 1e9], recompute=True)
    assert np.allclose(rc, c + np.array([[16 + 24, 16 + 4, 0], [16 + 72, 16 + 12, 0]]))


@given(t=st.builds(TrainingTerms, st.floats(1, 1e6), st.floats(0, 1e6), st.floats(0, 1e6),
                   st.floats(0, 1e6), st.just(0.0), st.just(0.0)),
       caps=st.lists(st.floats(0, 1e7), min_size=2, max_size=6))
def test_bound_shape_monotone_and_above_compulsory(t: TrainingTerms, caps: list[float]) -> None:
    caps_sorted = np.sort(np.asarray(caps))
    b0 = training_bound_bytes(t, [1, 7], caps_sorted)
    b1 = training_bound_bytes(t, [1, 7], caps_sorted, recompute=True)
    assert b0.shape == (2, len(caps))
    assert np.all(np.diff(b0, axis=1) <= 1e-9) and np.all(b1 <= b0 + 1e-9)
    floor = np.array([[1.0], [7.0]]) * t.input_bytes + t.weight_bytes + t.weight_gradient_bytes
    assert np.all(b1 >= floor - 1e-9)


def test_invalid_terms_rejected() -> None:
    with pytest.raises(ValueError, match="stash_input_bytes"):
        TrainingTerms(1, 0, 0, 0, 2, 0)
    with pytest.raises(ValueError, match="non-negative"):
        TrainingTerms(1, -1, 0, 0, 0, 0)


@settings(max_examples=40, **SETTINGS)
@given(text=small_nets(dag=True))
def test_needs_are_the_mbs_stash_rules_where_backward_is_needed(text: str) -> None:
    """The bound reads what the MBS model stashes, minus backward operations nobody needs."""
    net = load_network_text(text)
    ours, theirs = backward_needs(net), mbs_needs(net, True)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert set(a) <= set(b), (net.layers[i].name, a, b)
        if net.layers[i].weight_elems:
            assert set(a) == set(b)


# ------------------------------------------------------------------------------------------
# Exhaustive search over the schedules of tiny training graphs


def test_search_hand_case() -> None:
    """x(2) -conv w1-> a0(2) -act-> a1(2), one sample: stash a1 (act) and x (conv wgrad)."""
    ch = TinyChain(2, (TinyLayer("conv", 2, 1), TinyLayer("act", 2)))
    g = build_graph(ch)
    assert min_capacity_bytes(g) == 6  # G0 = dgrad(G1, a1): 2 + 2 + 2
    # big buffer: read x and w once, write dW once
    assert optimal_traffic(ch, 100) == 2 + 1 + 1
    assert optimal_traffic(ch, 5) is None
    t = chain_terms(ch)
    assert (t.stash_activation_bytes, t.stash_input_bytes, t.backward_weight_bytes) == (2, 2, 0)


def test_search_where_the_stash_term_binds() -> None:
    """conv-act-conv-act of unit sizes at M = 3: stash 2 B + input 1 B + backward weights 1 B
    exceed the buffer, so bound 1 is above the compulsory traffic (one weight reload); the
    optimum (10 B) is above bound 1 (6 B)."""
    ch = TinyChain(1, (TinyLayer("conv", 1, 1), TinyLayer("act", 1), TinyLayer("conv", 1, 1),
                       TinyLayer("act", 1)))
    t = chain_terms(ch)
    assert (t.stash_activation_bytes, t.stash_input_bytes, t.backward_weight_bytes) == (2, 1, 1)
    assert min_capacity_bytes(build_graph(ch)) == 3
    b1 = float(training_bound_bytes(t, 1, 3)[0, 0])
    assert b1 == 6 > 5 == float(training_bound_bytes(t, 1, 3, recompute=True)[0, 0])
    assert optimal_traffic(ch, 3) == 10 == optimal_traffic(ch, 3, recompute=True)


@st.composite
def tiny_chains(draw: st.DrawFn, max_layers: int, max_batch: int) -> TinyChain:
    n = draw(st.integers(1, max_layers))
    layers = []
    for i in range(n):
        kind = "conv" if i == 0 else draw(st.sampled_from(["conv", "act", "maxpool", "avgpool"]))
        layers.append(TinyLayer(kind, draw(st.integers(1, 3)),
                                draw(st.integers(1, 2)) if kind == "conv" else 0))
    return TinyChain(draw(st.integers(1, 3)), tuple(layers), draw(st.integers(1, max_batch)))


def _check(ch: TinyChain, extra: int, recompute: bool, max_values: int) -> tuple[int, float]:
    g = build_graph(ch)
    assume(len(g.names) <= max_values)
    m = min_capacity_bytes(g) + extra
    try:
        opt = optimal_traffic(ch, m, recompute=recompute, max_states=400_000)
        # a schedule without recomputation is one with it allowed
        opt_rc = optimal_traffic(ch, m, recompute=True, max_states=400_000
                                 ) if not recompute else opt
    except RuntimeError:  # the state budget: too big to search, not a failure of the bound
        assume(False)
        raise
    assume(opt is not None)
    bound = float(training_bound_bytes(chain_terms(ch), ch.batch, m, recompute=recompute)[0, 0])
    assert opt >= bound - 1e-9, (ch, m, opt, bound)
    assert opt_rc is not None and opt >= opt_rc
    return opt, bound


@settings(max_examples=25, **SETTINGS)
@given(ch=tiny_chains(3, 2), extra=st.integers(0, 6))
def test_no_schedule_without_recomputation_beats_bound_1(ch: TinyChain, extra: int) -> None:
    _check(ch, extra, recompute=False, max_values=11)


@settings(max_examples=25, **SETTINGS)
@given(ch=tiny_chains(3, 2), extra=st.integers(0, 6))
def test_no_schedule_with_recomputation_beats_bound_2(ch: TinyChain, extra: int) -> None:
    _check(ch, extra, recompute=True, max_values=11)


@pytest.mark.slow
@settings(max_examples=40, **SETTINGS)
@given(ch=tiny_chains(3, 2), extra=st.integers(0, 8), recompute=st.booleans())
def test_bounds_on_bigger_graphs(ch: TinyChain, extra: int, recompute: bool) -> None:
    _check(ch, extra, recompute=recompute, max_values=14 if recompute else 16)


# ------------------------------------------------------------------------------------------
# No cnnmem training strategy goes below bound 1 (they all stash, none recomputes)


#: The TNPU family's default accounting fuses element-wise layers into their producers with no
#: traffic at all (papers.md's t_C / t_F), so the stash of batchnorm/ReLU layers is never
#: written or read: outside class R0 (test_tnpu_fused_elementwise_below_bound_1 below). With
#: ``elementwise=stream`` (the cost core's streaming traffic) it is in R0.
TNPU_R0 = {"elementwise": "stream"}


def _sweep_requests(net, batch: int, name: str, data: st.DataObject):  # noqa: ANN001, ANN202
    hw = SPLIT_HW if name in TNPU_FAMILY else WAVECORE
    yield hw, SweepRequest(network=net, hardware=hw, mode=TRAINING, batch=batch,
                           capacity_bytes=CAPS,
                           options=TNPU_R0 if name in TNPU_FAMILY else {})
    if name == "mbs":
        n = len(net)
        cuts = tuple(sorted(data.draw(st.sets(st.integers(0, n - 2), max_size=n - 1)))
                     ) if n > 1 else ()
        subs = np.unique(np.array(data.draw(st.lists(st.integers(1, batch), min_size=1,
                                                     max_size=3))))
        for grouping in ("layer", "all", cuts):
            yield hw, SweepRequest(network=net, hardware=hw, mode=TRAINING, batch=batch,
                                   capacity_bytes=CAPS, grouping=grouping, sub_batch=subs)


@settings(max_examples=60, **SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 6), data=st.data())
def test_no_training_strategy_beats_bound_1(text: str, batch: int, data: st.DataObject) -> None:
    net = load_network_text(text)
    evaluators = sweep_evaluators()
    has_compute = any(layer.is_compute for layer in net.layers)
    for name, strat in strategies().items():
        if (TRAINING not in strat.modes or strat.spec.recomputes
                or (name in TNPU_FAMILY and not has_compute)):
            continue
        for hw, req in _sweep_requests(net, batch, name, data):
            bound = network_training_bound_bytes(net, Precision.of(hw), batch, CAPS)[0]
            dram = np.asarray(evaluators[name](req).dram_bytes, float)
            dram = dram.reshape(len(CAPS), -1)
            assert np.all(dram >= bound[:, None] * (1 - 1e-12)), (
                name, req.grouping, (dram / bound[:, None]).min())


@settings(max_examples=30, **SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 6))
def test_tnpu_fused_elementwise_above_bound_2(text: str, batch: int) -> None:
    """Fused element-wise layers cost nothing: like recomputing them, so only bound 2 applies."""
    net = load_network_text(text)
    assume(any(layer.is_compute for layer in net.layers))
    bound = network_training_bound_bytes(net, Precision.of(SPLIT_HW), batch, CAPS,
                                         recompute=True)[0]
    for name in sorted(TNPU_FAMILY):
        req = SweepRequest(network=net, hardware=SPLIT_HW, mode=TRAINING, batch=batch,
                           capacity_bytes=CAPS)
        dram = np.asarray(sweep_evaluators()[name](req).dram_bytes, float).reshape(len(CAPS), -1)
        assert np.all(dram >= bound[:, None] * (1 - 1e-12)), name


def test_tnpu_fused_elementwise_is_class_r1() -> None:
    """The fused accounting keeps no stash for element-wise layers, so it goes below bound 1
    (conv + 3 batchnorm, 256 B: 1,216 B < 1,408 B; found by the property above): it must
    re-derive their values in backward, which is recomputation (class R1). The TNPU family
    declares it (``recomputes_when``), and its schedules and sweep rows report their ratio to
    bound 2; with ``elementwise=stream`` they report it against bound 1."""
    from cnnmem.model.schedule import run_strategy, strategy_specs

    net = load_network_text(
        "name: t\ninput: [1, 4, 4]\nlayers:\n"
        "  - {name: l1, type: conv, input: input, out: 4, kernel: 1, padding: 0}\n"
        "  - {name: l2, type: batchnorm, input: l1}\n"
        "  - {name: l3, type: batchnorm, input: l2}\n"
        "  - {name: l4, type: batchnorm, input: l3}\n")
    prec = Precision.of(SPLIT_HW)
    bound1 = network_training_bound_bytes(net, prec, 1, CAPS)[0]
    bound2 = network_training_bound_bytes(net, prec, 1, CAPS, recompute=True)[0]
    req = SweepRequest(network=net, hardware=SPLIT_HW, mode=TRAINING, batch=1,
                       capacity_bytes=CAPS)
    dram = np.asarray(sweep_evaluators()["tnpu"](req).dram_bytes, float).ravel()
    assert (dram < bound1).any() and np.all(dram >= bound2)  # below bound 1, above bound 2
    for name in sorted(TNPU_FAMILY):
        spec = strategy_specs()[name]
        assert spec.recomputes_with({}) and spec.recomputes_with({"elementwise": "fused"})
        assert not spec.recomputes_with({"elementwise": "stream"})
        for elementwise, bound in (("fused", bound2), ("stream", bound1)):
            _, res = run_strategy(name, net, SPLIT_HW.replace(buffer_bytes=float(CAPS[0])),
                                  mode=TRAINING, batch=1,
                                  options={"elementwise": elementwise})
            assert res.totals["training_bound_bytes"] == pytest.approx(float(bound[0]))
            assert res.totals["dram_over_bound"] == pytest.approx(
                res.totals["dram_bytes"] / float(bound[0]))
@pytest.mark.slow
@settings(max_examples=400, **SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 16), data=st.data())
def test_no_training_strategy_beats_bound_1_many(text: str, batch: int,
                                                 data: st.DataObject) -> None:
    test_no_training_strategy_beats_bound_1.hypothesis.inner_test(text, batch, data)


@pytest.mark.parametrize("network", ["resnet50", "inception_v3"])
def test_named_networks_strategies_above_bound_1(network: str) -> None:
    net = load_network(network)
    caps = np.array([2, 10, 32]) * 2.0**20
    bound = network_training_bound_bytes(net, Precision.of(WAVECORE), 256, caps)[0]
    evaluators = sweep_evaluators()
    for name in ("layerwise", "mbs-greedy", "mbs-optimal", "mbs-fs"):
        req = SweepRequest(network=net, hardware=WAVECORE, mode=TRAINING, batch=256,
                           capacity_bytes=caps)
        dram = np.asarray(evaluators[name](req).dram_bytes, float).reshape(len(caps), -1)
        assert np.all(dram >= bound[:, None]), name


# ------------------------------------------------------------------------------------------
# The command


def test_cli_training_bound_table() -> None:
    import io

    import pandas as pd
    from click.testing import CliRunner

    from cnnmem.cli import cli

    res = CliRunner().invoke(cli, ["bound", "resnet50", "--training", "--hw", "wavecore",
                                   "--batch", "256", "--buffer", "2MiB, 10MiB,32MiB",
                                   "--format", "csv"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.output))
    assert list(df.columns) == ["buffer_bytes", "compulsory_bytes", "bound_no_recompute_bytes",
                                "bound_recompute_bytes", "bound_no_recompute_over_compulsory"]
    caps = np.array([2, 10, 32]) * 2.0**20
    assert np.allclose(df["buffer_bytes"], caps)
    want = network_training_bound_bytes(load_network("resnet50"), Precision.of(WAVECORE), 256,
                                        caps)[0]
    assert np.allclose(df["bound_no_recompute_bytes"], want)
    assert (np.diff(df["bound_no_recompute_bytes"]) < 0).all()
    assert (df["bound_recompute_bytes"] < df["bound_no_recompute_bytes"]).all()
    # the default capacity is the hardware's buffer
    res = CliRunner().invoke(cli, ["bound", "resnet50", "--training", "--hw", "wavecore",
                                   "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(io.StringIO(res.output))["buffer_bytes"].tolist() == [
        WAVECORE.buffer_bytes]


def test_cli_bound_without_training_still_requires_buffer(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    from cnnmem.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["bound", "vgg16"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.strip() == "error: field '--buffer': required unless --training"


# ------------------------------------------------------------------------------------------
# Sweep rows carry dram_over_bound (bound 1; bound 2 for mbs-recompute)

SWEEP_TEXT = """\
sweep: bound
networks: [lenet5, mpcnn]
hardware: [wavecore]
mode: training
batch: 8
strategies: [layerwise, mbs-greedy, mbs-optimal, mbs-fs, mbs, mbs-recompute]
axes:
  capacity: [2 KiB, 16 KiB, 64 KiB, 256 KiB, 4 MiB]
  sub_batch: [1, 2, 8]
  grouping: [{random: 3, seed: 5, max_depth: 4}, stage, layer]
"""


@pytest.mark.parametrize("elementwise", ["fused", "stream"])
def test_tnpu_sweep_rows_against_bound_of_their_class(tmp_path, elementwise: str
                                                      ) -> None:  # noqa: ANN001
    """TNPU sweep rows: ``dram_over_bound`` against bound 2 with ``elementwise=fused`` (class
    R1), bound 1 with ``stream``; never below 1."""
    import pandas as pd

    from cnnmem.sweep.engine import run_sweep
    from cnnmem.sweep.spec import load_sweep

    path = tmp_path / "s.yaml"
    path.write_text("sweep: b\nnetworks: [lenet5]\nhardware: [tnpu]\nmode: training\n"
                    "batch: 4\nstrategies: [tnpu, dnpu-like]\n"
                    f"options: {{elementwise: {elementwise}}}\n"
                    "axes:\n  capacity: [256 B, 2 KiB, 16 KiB, 256 KiB]\n")
    run_sweep(load_sweep(path), tmp_path / "out", quiet=True, keep="all")
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    net = load_network("lenet5")
    for _, rows in df.groupby("strategy"):
        bound = network_training_bound_bytes(net, Precision.of(SPLIT_HW), 4,
                                             rows["capacity_bytes"].to_numpy(),
                                             recompute=elementwise == "fused")[0]
        ratio = rows["dram_over_bound"].to_numpy()
        assert np.allclose(ratio, rows["dram_bytes"].to_numpy() / bound, rtol=1e-12)
        assert np.all(ratio >= 1 - 1e-12)


def test_sweep_rows_dram_over_bound(tmp_path) -> None:  # noqa: ANN001
    import pandas as pd

    from cnnmem.sweep.engine import run_sweep
    from cnnmem.sweep.spec import load_sweep

    path = tmp_path / "s.yaml"
    path.write_text(SWEEP_TEXT)
    spec = load_sweep(path)
    run_sweep(spec, tmp_path / "out", quiet=True, keep="all")
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert set(df["strategy"]) == {"layerwise", "mbs-greedy", "mbs-optimal", "mbs-fs", "mbs",
                                   "mbs-recompute"}
    nets = {n: load_network(n) for n in ("lenet5", "mpcnn")}
    for (net, strat), rows in df.groupby(["network", "strategy"]):
        bound = network_training_bound_bytes(nets[net], Precision.of(WAVECORE), 8,
                                             rows["capacity_bytes"].to_numpy(),
                                             recompute=strat == "mbs-recompute")[0]
        dram = rows["dram_bytes"].to_numpy()
        assert np.allclose(rows["dram_over_bound"], dram / bound, rtol=1e-12)
        finite = np.isfinite(dram)
        assert finite.any()
        assert np.all(rows["dram_over_bound"].to_numpy()[finite] >= 1 - 1e-12), (net, strat)
