"""The golden-file comparison ignores float noise in the last bits and nothing else."""

import pytest
from _golden import assert_close_structure, same_up_to_float_noise


def test_numbers_compare_to_a_relative_1e_12():
    assert same_up_to_float_noise("return -0.07816054873577338 ok", "return -0.07816054873577333 ok")
    assert not same_up_to_float_noise("return -0.0781605 ok", "return -0.0781606 ok")
    assert not same_up_to_float_noise("return 1 ok", "return 1 OK")
    assert not same_up_to_float_noise("a 1 2", "a 1")


def test_structures_compare_keys_and_text_exactly():
    assert_close_structure({"x": [1.0, "a 0.5"]}, {"x": [1.0 + 1e-15, "a 0.5000000000000001"]})
    with pytest.raises(AssertionError, match="keys differ"):
        assert_close_structure({"x": 1}, {"y": 1})
    with pytest.raises(AssertionError, match=r"\['x'\]\[1\]"):
        assert_close_structure({"x": [1.0, "a"]}, {"x": [1.0, "b"]})
    with pytest.raises(AssertionError):
        assert_close_structure([0.1], [0.1001])
