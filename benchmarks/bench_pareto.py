"""Pareto filter speed on large k-objective sets with large fronts.

    python benchmarks/bench_pareto.py          # 200,000 points, 3 objectives, 11,000 on the front
    python benchmarks/bench_pareto.py --objectives 4 --points 100000 --front 5000
    python benchmarks/bench_pareto.py --check           # also compare with a dense O(n^2) filter

The input (:func:`front_and_noise`) is ``front`` points on the unit simplex (sum of the
objectives = 1: no one of them dominates another) and ``points - front`` dominated points,
each a copy of a random simplex point pushed away by non-negative offsets whose size is
log-uniform over 1e-5..1e-1 (with at least one offset > 0): most sit so close to the surface
that only their own parent dominates them, which is what makes large fronts hard. The expected
front is therefore exactly the simplex points, and the script checks it. ``--ties`` rounds the
values to a grid so that ties and duplicates are frequent.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cnnmem.sweep.pareto import pareto_mask


def front_and_noise(points: int, front: int, objectives: int, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(values (points, objectives), expected front mask), rows shuffled."""
    rng = np.random.default_rng(seed)
    surface = rng.dirichlet(np.ones(objectives), size=front)
    n_noise = points - front
    parent = surface[rng.integers(0, front, n_noise)]
    size = 10.0 ** rng.uniform(-5, -1, size=(n_noise, 1))
    offsets = size * rng.random((n_noise, objectives)) * (rng.random((n_noise, objectives)) < 0.7)
    offsets[np.arange(n_noise), rng.integers(0, objectives, n_noise)] += size[:, 0]  # one > 0
    values = np.concatenate([surface, parent + offsets])
    expected = np.concatenate([np.ones(front, bool), np.zeros(n_noise, bool)])
    perm = rng.permutation(points)
    return values[perm], expected[perm]


def dense_bruteforce(v: np.ndarray, block: int = 2048) -> np.ndarray:
    """O(n^2) reference in blocks of rows (minutes for 200,000 points)."""
    dominated = np.zeros(v.shape[0], bool)
    for lo in range(0, v.shape[0], block):
        c = v[lo:lo + block]
        for lo2 in range(0, v.shape[0], block):
            p = v[lo2:lo2 + block]
            le = (p[:, None, :] <= c[None, :, :]).all(axis=2)
            lt = (p[:, None, :] < c[None, :, :]).any(axis=2)
            dominated[lo:lo + c.shape[0]] |= (le & lt).any(axis=0)
    return np.isfinite(v).all(axis=1) & ~dominated


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--front", type=int, default=11_000)
    ap.add_argument("--objectives", type=int, default=3)
    ap.add_argument("--ties", type=float, default=0.0, help="round values to this grid step")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="compare with the dense O(n^2) filter")
    args = ap.parse_args()
    v, expected = front_and_noise(args.points, args.front, args.objectives)
    if args.ties:
        v = np.round(v / args.ties) * args.ties
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        mask = pareto_mask(v)
        times.append(time.perf_counter() - t0)
    print(f"{args.points:,} points, {args.objectives} objectives: front {int(mask.sum()):,} "
          f"points; pareto_mask best {min(times):.3f} s, "
          f"median {sorted(times)[len(times) // 2]:.3f} s of {args.repeat}")
    if not args.ties:
        print(f"  front == the simplex points: {bool((mask == expected).all())}")
    if args.check:
        t0 = time.perf_counter()
        ok = bool((dense_bruteforce(v) == mask).all())
        print(f"  equal to the dense O(n^2) filter: {ok} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
