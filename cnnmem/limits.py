"""Limits on every count that drives work or memory, each documented once here.

Every input that could make cnnmem hang or exhaust memory is checked against one of these
before the work starts; exceeding one is bad input (:class:`~cnnmem.errors.InputError`, one
line naming file, line, field, the value and the limit, exit status 2). ``cnnmem validate``
applies the same checks as the commands, because both go through the same parsers.

The values leave every built-in network, hardware preset, sweep and scenario far inside them;
they are set where the work behind them would take minutes or gigabytes.
"""

from __future__ import annotations

from typing import Any

from cnnmem.errors import MAX_LINE_CHARS, InputError

#: Bytes of one input YAML file (networks, hardware, sweeps, scenarios). The largest built-in
#: file is a few KiB; 16 MiB also stops ``/dev/zero`` or a binary given by mistake.
MAX_FILE_BYTES = 16 * 1024 * 1024

#: YAML nodes after alias expansion (``*ref`` counted once per use). A "billion laughs" alias
#: bomb is a few hundred bytes that expands to 10**9 nodes; no real file comes near 10**6.
MAX_YAML_NODES = 1_000_000

#: Nesting depth of YAML collections (deeper nesting would exhaust the parser's stack).
MAX_YAML_DEPTH = 200

#: Magnitude of a YAML integer: int64, the type every count is stored in downstream.
MAX_YAML_INT = 2**63 - 1

#: ``repeat:`` of one block instance.
MAX_REPEAT = 10_000

#: Layers of a network after block expansion. Bounds the per-layer and per-group work of every
#: strategy; the built-in networks have at most a few hundred.
MAX_LAYERS = 20_000

#: Layers of one MBS group (``mbs-*`` strategies, ``mbs-recompute``). The per-group tables of
#: MBS hold every group of at most this many consecutive layers, so their memory is linear in
#: layers x this value (issue #16 "Scale": 160 MiB of tables for 10,000 layers, where square
#: tables took about 20 GiB). Every built-in network has at most 515 layers, so for each of
#: them every group is considered and results are unchanged; on a deeper network
#: ``mbs-optimal``, ``mbs-fs``, ``mbs-recompute`` and the greedy rule choose among groups of at
#: most this many layers (a restriction of their search space: on a 1,000-layer chain of tiny
#: layers whose optimum is one group of all, +0.4% DRAM traffic), and an explicit grouping
#: (``-O cuts=``, ``-O grouping=``, a sweep's cuts) with a deeper group is refused.
MAX_GROUP_LAYERS = 520

#: Characters of one ``${expression}``.
MAX_EXPRESSION_CHARS = 1_000

#: Magnitude of any integer produced while evaluating an expression (``9**64**64`` is refused
#: before it is computed, not after minutes of big-integer arithmetic).
MAX_EXPRESSION_INT = 2**63 - 1

#: Characters of any string produced while evaluating an expression (``'x' * 10**9``).
MAX_EXPRESSION_STRING = 10_000

#: Mini-batch size (``--batch``, sweep ``batch``, ``--sub-batch``): the TNPU simulation works
#: per sample (alexnet: 23 s at 10,000 samples) and the MBS sub-batch search per size.
MAX_BATCH = 16_384

#: Chips of a multi-chip pipeline (``--chips``, sweep ``chips``, hardware ``chips``): OCCAM's
#: pipeline partitioning works per chip (vgg16: 2 s at 4,096 chips, 34 s at 10**6).
MAX_CHIPS = 4_096

#: Values of one sweep axis (``steps``, a ``step`` range or an integer range).
MAX_AXIS_VALUES = 1_000_000

#: Seeded random groupings of one ``{random: N}`` grouping entry.
MAX_RANDOM_GROUPINGS = 10_000

#: Design points of a whole sweep (networks x hardware x strategies x every axis); at about a
#: million points per second that is minutes of work.
MAX_SWEEP_POINTS = 100_000_000

#: Units (layers no cut may separate, e.g. conv + relu) of one fused group that the Layer Fusion
#: and OCCAM grouping DPs consider (issue #16 'Scale'). Their tables hold U x this many groups
#: instead of U x U, so a 10,000-layer network fits in well under 1 GiB. Results cannot change
#: for a network of at most this many units (every built-in network: at most 208), nor for any
#: network where no group of this many units fits the largest capacity considered (a group's
#: need only grows with the group; ``cnnmem.model.fusion_tables.depth_limited`` checks this
#: exactly and the schedule says so when it binds). Fixed groupings (``grouping=all``, ``cuts``)
#: are not limited.
MAX_FUSED_GROUP_UNITS = 256

#: Characters of one error line (290, set in cnnmem.errors); longer messages (a huge bad
#: value) are cut in the middle.
MAX_ERROR_CHARS = MAX_LINE_CHARS

#: Characters of a value quoted in an error message.
MAX_QUOTED_CHARS = 60


def quote(value: Any) -> str:
    """``repr(value)`` cut to :data:`MAX_QUOTED_CHARS` (error messages never repeat a huge
    value)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else (
        f"{'-' if value < 0 else ''}<{abs(value).bit_length()}-bit integer>")
    if len(text) > MAX_QUOTED_CHARS:
        text = text[: MAX_QUOTED_CHARS - 5] + "...'"
    return text


def check_count(value: Any, limit: int, *, field: str, what: str, file: str | None = None,
                line: int | None = None, item: str | None = None) -> None:
    """Raise an :class:`InputError` when a count exceeds its limit (names value and limit)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
        raise InputError(f"{what} {shown} exceeds the limit of {limit:,} (cnnmem.limits)",
                         file=file, line=line, item=item, field=field)


def check_chips(chips: Any, *, field: str = "--chips", file: str | None = None,
                line: int | None = None) -> None:
    """Chips of a Hardware value (also when a sweep axis sets them)."""
    check_count(chips, MAX_CHIPS, field=field, what="chips", file=file, line=line)
