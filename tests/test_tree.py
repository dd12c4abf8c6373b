"""wengert.tree: flatten / unflatten of nested lists, tuples, named tuples and dicts."""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

from wengert.tree import LEAF, flatten_like, tree_flatten, tree_map, tree_unflatten

Point = namedtuple("Point", "x y")


@pytest.mark.parametrize("tree", [
    1.0,
    np.ones(2),
    [1.0, (2.0, 3.0)],
    {"w": [np.ones(2), None], "b": 0.5},
    Point(1.0, [2.0, {"z": 3.0}]),
    (),
    {"empty": []},
])
def test_round_trip(tree):
    leaves, td = tree_flatten(tree)
    back = tree_unflatten(td, leaves)
    assert tree_flatten(back)[1] == td
    assert type(back) is type(tree)
    for a, b in zip(leaves, tree_flatten(back)[0]):
        assert a is b


def test_leaf_order_is_depth_first_in_dict_order():
    leaves, td = tree_flatten({"b": 1.0, "a": [2.0, 3.0]})
    assert leaves == [1.0, 2.0, 3.0]
    assert td.num_leaves == 3
    assert tree_flatten(5.0)[1] is LEAF


def test_flatten_like_matches_dicts_by_key_and_names_the_place():
    _, td = tree_flatten({"a": [1.0, 2.0], "b": 3.0})
    assert flatten_like(td, {"b": 30.0, "a": [10.0, 20.0]}) == [10.0, 20.0, 30.0]
    with pytest.raises(ValueError, match=r"has 1 entries at \['a'\] where the primals have 2"):
        flatten_like(td, {"a": [1.0], "b": 3.0})
    with pytest.raises(TypeError, match=r"has a float at \['a'\] where the primals have a list"):
        flatten_like(td, {"a": 1.0, "b": 3.0})
    with pytest.raises(TypeError, match=r"has a list at \['b'\] where the primals have an array"):
        flatten_like(td, {"a": [1.0, 2.0], "b": [3.0]})


def test_unflatten_checks_the_leaf_count():
    _, td = tree_flatten([1.0, 2.0])
    with pytest.raises(ValueError, match="has 2 leaves, got 3"):
        tree_unflatten(td, [1, 2, 3])


def test_tree_map_keeps_structure():
    out = tree_map(lambda a, b: a * b, Point(2.0, [3.0]), Point(10.0, [100.0]))
    assert out == Point(20.0, [300.0])
