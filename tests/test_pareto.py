"""Vectorized Pareto filter vs a brute-force filter."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cnnmem.sweep.pareto import pareto_mask, pareto_mask_bruteforce

values = st.one_of(st.integers(0, 4).map(float), st.just(np.inf), st.just(np.nan))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5).flatmap(
    lambda k: arrays(float, st.tuples(st.integers(0, 40), st.just(k)), elements=values)),
    st.integers(1, 9))
def test_matches_bruteforce(v, block):
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
    """Large enough for the pivot prefilter; few distinct values, so many ties and duplicates."""
    assert (pareto_mask(v) == _dense_bruteforce(v)).all()
