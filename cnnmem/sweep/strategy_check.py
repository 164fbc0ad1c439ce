"""A sweep file's options and axes checked against the listed strategies' declared specs.

The axes and ``options:`` of a sweep are shared by its strategies: each strategy gets the ones
it takes (:func:`cnnmem.sweep.engine.strategy_options`). Anything no listed strategy takes, or a
value a strategy that takes it rejects, is an InputError naming the field; nothing is silently
ignored for every strategy.
"""

from __future__ import annotations

from typing import Any

from cnnmem.errors import InputError
from cnnmem.model.schedule import StrategySpec


def check_sweep_strategies(specs: list[StrategySpec], *, options: dict[str, Any],
                           sub_batch_axis: bool, groupings: tuple[Any, ...], chips: int,
                           error: Any) -> None:
    """``error(message, field)`` builds the InputError (with file and line) to raise."""
    names = ", ".join(s.name for s in specs)
    for key, value in options.items():
        if key in ("grouping", "cuts"):
            takers = [s for s in specs if s.grouping.takes]
        else:
            takers = [s for s in specs if key in s.option_names]
        if not takers:
            raise error(f"no listed strategy ({names}) takes option '{key}'", f"options.{key}")
        for s in takers:
            if key == "grouping":
                if str(value) not in s.grouping.policies:
                    raise error(f"strategy '{s.name}' takes no grouping '{value}' (it takes: "
                                f"{s.grouping.describe()})", f"options.{key}")
            elif key == "cuts":
                if not s.grouping.cuts:
                    raise error(f"strategy '{s.name}' takes no explicit cuts",
                                f"options.{key}")
            else:
                try:
                    s.option(key).parse(value, s.name)
                except InputError as exc:
                    raise error(exc.message, f"options.{key}") from None
    if sub_batch_axis and not any(s.sub_batch == "fixed" for s in specs):
        raise error(f"no listed strategy ({names}) takes a sub-batch axis (strategies that "
                    "do: those with sub-batch 'fixed' in `cnnmem strategies`)",
                    "axes.sub_batch")
    explicit = [g for g in groupings if g.kind != "default"]
    if explicit:
        takers = [s for s in specs if s.grouping.takes]
        if not takers:
            raise error(f"no listed strategy ({names}) takes a grouping axis",
                        "axes.grouping")
        for s in takers:
            for g in explicit:
                ok = (str(g.value) in s.grouping.policies if g.kind == "policy"
                      else s.grouping.cuts)
                if not ok:
                    raise error(f"strategy '{s.name}' takes no grouping '{g.label}' (it "
                                f"takes: {s.grouping.describe()})", "axes.grouping")
    if chips != 1 and not any(s.chips for s in specs):
        raise error(f"no listed strategy ({names}) takes chips ({chips})", "chips")
