"""Mini-batch serialization (MBS, Lym et al., SysML 2019; papers.md section 2).

Layers, in the network's topological order, are cut into consecutive groups; group g runs its
sub-batch of n_g samples through all its layers before the next sub-batch, so tensors inside the
group stay on chip. Strategies registered here (one evaluator each, ``@register``):

* ``mbs-greedy``  the published greedy grouping: a group is extended by the next layer while its
  largest feasible sub-batch does not shrink [reconstruction of "extend the group while the next
  layer's largest feasible sub-batch is not smaller than the group's"];
* ``mbs-optimal`` dynamic programming over cut points and per-group sub-batch sizes: minimal DRAM
  traffic for this model (:func:`cnnmem.model.grouping.consecutive_dp`);
* ``mbs-fs``      fully serialized: every group uses sub-batch 1 (cuts chosen by the DP);
* ``mbs``         an explicit grouping: ``-O cuts=3,7,12`` (a group ends after each listed layer
  index) or ``-O grouping=layer|block|stage|all|optimal|greedy``; ``--sub-batch`` fixes n.

The conventional baseline is :mod:`cnnmem.model.layerwise` (reused, not re-implemented).

Group cost model [reconstruction of papers.md section 2; per sample sizes in elements, N the
mini-batch, S = ceil(N / n) sub-batches, e_a/e_w/e_g bytes per activation/weight/gradient]:

* forward: each distinct tensor entering the group is read once (N x, "activations"); each tensor
  produced in the group and read after it (or a network output) is written once
  ("activations"); tensors backward needs that are produced inside the group and not already
  written as outputs are written once ("stash"); all group weights are read S times.
* data gradient: dY of each group output read once, dX of each group input written once
  ("gradients"); inner gradients stay on chip; every stashed or boundary tensor backward needs
  is read once ("stash"; booked to the weight-gradient pass when a conv/FC layer needs it, else
  to the data-gradient pass); weights read S times.
* weight gradient: dW accumulated on chip and written once when all the group's dW fit next to
  the working set, else read-modify-written per sub-batch (S writes + S-1 reads) ("weights" =
  parameter-sized traffic, W and dW).
* tensors needed in backward: conv/FC, batchnorm/groupnorm, max-pool: their input; activation
  functions, dropout (mask), softmax: their output; LRN both; add/concat/avg-pool/flatten none.
* gradient forks follow the baseline's framework convention (:mod:`cnnmem.model.streaming`): a
  tensor with k consumers outside its producer's group costs (k - 1) DRAM accumulations of
  (read 2, write 1) gradient tensors, charged to the producer group; a group holding m > 1 of
  those consumers sums their contributions on chip and is credited the (m - 1) accumulations
  it saves (so a group total can be lower than its dX writes alone).
* buffer need = n x peak live per-sample footprint + weight working set. The footprint at step
  l counts every tensor live there: produced and still awaited by a later layer of the group,
  entering the group and still awaited, branch tensors held until their add/concat; backward at
  step l holds the same tensors as gradients plus the activations layer l reloads. The weight
  working set is the largest layer's weights (and its dW in training), or with
  ``-O weight_tile=channel`` one output channel's weights (weights stream by channel).
* normalization: MBS needs per-sample statistics (the paper uses GroupNorm), so batchnorm inside
  an MBS group is modelled as per-sample norm: statistics and normalization in one pass over a
  sample that is on chip. A single-layer group run over the whole batch (n = N) is exactly the
  conventional layer of the baseline, with its intra-layer spill, and so is a single-layer group
  whose sub-batch does not fit; that makes the all-single-layer, full-batch grouping reproduce
  ``layerwise`` exactly.
* energy and latency from the single roll-up (:mod:`cnnmem.model.rollup`) per group and pass
  direction; the buffer bytes include one write and one read of every tensor the group keeps on
  chip (produced in the group, first consumed in it: forward activations and backward
  gradients, the rule fusion uses; issue #12 item 8). The compute time of each layer-pass at
  the group's sub-batch n is divided by its systolic-array mapping efficiency
  (:mod:`cnnmem.model.array`: small n pays the array's fill and drain): latency = max(compute,
  memory) of the forward sweep + the same of the backward sweep (a group overlaps DRAM
  transfers with its own compute); the same MACs as the baseline. All tensors (including the
  network input's dX, as in the baseline) are counted.

Scale (issue #16): the tables hold every group of at most
:data:`cnnmem.limits.MAX_GROUP_LAYERS` layers (520; every built-in network has fewer, so
nothing is left out there), in memory linear in the layer count (:mod:`.band`); on a deeper
network the DPs and the greedy rule consider no deeper group, and an explicit grouping with one
is refused.

Modules: tables (group traffic tables), band (their banded storage), fallback (a layer alone
over the whole batch),
traffic (the model and a group's DRAM traffic), plans (optimal DP, greedy, cuts), rollup
(energy/latency and totals), points (the sweep hot path), strategies (specs, registration).
"""

from __future__ import annotations

from cnnmem.model.mbs import recompute  # noqa: E402,F401  (registers mbs-recompute)
from cnnmem.model.mbs.fallback import (  # noqa: F401
    LayerFallback,
    _split_layer_pass,
    layer_fallback,
)
from cnnmem.model.mbs.plans import (  # noqa: F401
    Plan,
    _problems,
    named_cuts,
    plan_cuts,
    plan_greedy,
    plan_optimal,
)
from cnnmem.model.mbs.points import (  # noqa: F401
    POINT_KEYS,
    _regime_values,
    fixed_grouping_points,
)
from cnnmem.model.mbs.rollup import (  # noqa: F401
    TOTAL_FIELDS,
    _array_mac_tables,
    _group_terms,
    _layer_gconvs,
    evaluate,
    group_array_macs,
)
from cnnmem.model.mbs.strategies import (  # noqa: F401
    _LATENCY,
    _OWN_GROUPING,
    _WEIGHT_TILE,
    SPECS,
    _check_sub_batch,
    _make,
    _resolve,
    evaluate_strategy,
    plan,
)
from cnnmem.model.mbs.tables import (  # noqa: F401
    CELLS,
    KINDS,
    NOTE_NORM,
    GroupTables,
    _needs,
    cell_key,
    group_tables,
)
from cnnmem.model.mbs.traffic import (  # noqa: F401
    Model,
    _build_model,
    _cost_table,
    best_group_dram,
    build_model,
    group_dram,
    mbs_cells,
    sub_batch_candidates,
)
