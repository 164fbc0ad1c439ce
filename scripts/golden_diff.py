"""Compare two golden_totals.json files: keys added/removed and values that changed (rtol 1e-12).

    python scripts/golden_diff.py OLD.json NEW.json
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter


def main(old_path: str, new_path: str) -> int:
    old = json.load(open(old_path))["cases"]
    new = json.load(open(new_path))["cases"]
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    for case in sorted(set(old) | set(new)):
        a, b = old.get(case, {}), new.get(case, {})
        for k in sorted(set(a) | set(b)):
            if k not in a:
                added[k] += 1
            elif k not in b:
                removed[k] += 1
            elif a[k] != b[k] and not (isinstance(a[k], float) and isinstance(b[k], float)
                                       and math.isclose(a[k], b[k], rel_tol=1e-12)):
                changed[f"{case.split('|')[0]} {k}"] += 1
    print("added metrics:", dict(added) or "none")
    print("removed metrics:", dict(removed) or "none")
    print("changed values (strategy metric: cases):", dict(changed) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
