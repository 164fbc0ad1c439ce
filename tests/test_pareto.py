"""Vectorized Pareto filter vs a brute-force filter."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cnnmem.sweep.pareto import pareto_mask, pareto_mask_bruteforce

values = st.one_of(st.integers(0, 4).map(float), st.just(np.inf), st.just(-np.inf),
                   st.just(np.nan))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5).flatmap(
    lambda k: arrays(float, st.tuples(st.integers(0, 40), st.just(k)), elements=values)),
    st.integers(1, 9))
def test_matches_bruteforce(v, block):
    assert (pareto_mask(v, block=block) == pareto_mask_bruteforce(v)).all()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5).flatmap(lambda k: st.integers(0, 120).flatmap(
    lambda n: st.tuples(
        arrays(float, (n, k), elements=st.floats(-1e3, 1e3, allow_nan=False, width=16)),
        st.lists(st.integers(0, max(n - 1, 0)), max_size=20),  # rows to duplicate
        st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, k - 1)),
                 max_size=5)))),  # cells set to inf
    st.sampled_from([1, 2, 4, 8, 16]))
def test_floats_with_duplicates_and_inf_match_bruteforce(case, block):
    """Continuous values (few ties), exact duplicate rows and infinite cells, 1-5 objectives,
    enough points for several divide-and-conquer levels at every base-case width."""
    v, dup, infs = case
    if v.shape[0]:
        v = np.concatenate([v, v[dup]]) if dup else v.copy()
        for i, c in infs:
            v[i, c] = np.inf
    assert (pareto_mask(v, block=block) == pareto_mask_bruteforce(v)).all()


@settings(max_examples=100, deadline=None)
@given(arrays(float, st.tuples(st.integers(1, 60), st.integers(2, 4)),
              elements=st.floats(0, 1e12, allow_nan=False)))
def test_front_properties(v):
    mask = pareto_mask(v)
    front = v[mask]
    assert mask.any()  # a finite non-empty set has a non-empty front
    for p in v[~mask]:  # every dropped point is dominated by a front point
        assert ((front <= p).all(axis=1) & (front < p).any(axis=1)).any()


def test_two_objective_staircase():
    v = np.array([[1, 5], [2, 3], [3, 3], [4, 1], [2, 3], [5, 0.5], [1, 6]])
    assert pareto_mask(v).tolist() == [True, True, False, True, True, True, False]


def test_duplicates_share_their_fate():
    v = np.array([[1, 2, 3], [1, 2, 3], [2, 2, 3], [2, 2, 3], [0, 5, 5], [np.inf, 0, 0]])
    assert pareto_mask(v).tolist() == [True, True, False, False, True, False]


def _dense_bruteforce(v):
    """O(n^2) reference as one array operation (for the larger inputs)."""
    fin = np.isfinite(v).all(axis=1)
    le = (v[:, None, :] <= v[None, :, :]).all(axis=2)
    lt = (v[:, None, :] < v[None, :, :]).any(axis=2)
    dom = (le & lt & fin[:, None]).any(axis=0)
    return fin & ~dom


@settings(max_examples=25, deadline=None)
@given(st.integers(257, 700).flatmap(lambda n: st.integers(2, 5).flatmap(
    lambda k: arrays(float, (n, k), elements=values))))
def test_large_inputs_with_ties_match_bruteforce(v):
    """Many divide-and-conquer levels; few distinct values, so many ties and duplicates."""
    assert (pareto_mask(v) == _dense_bruteforce(v)).all()


def test_large_front_near_a_simplex_matches_dense_bruteforce():
    """The benchmark's kind of input (a large front on a simplex, dominated points just above
    it) at a size the dense reference handles."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_pareto import front_and_noise

    for k in (3, 4):
        v, expected = front_and_noise(3000, 400, k, seed=k)
        mask = pareto_mask(v)
        assert (mask == expected).all() and (mask == _dense_bruteforce(v)).all()
