"""The one validation module: a wrong type is a TypeError, a wrong value a
ValueError, the message names the argument, and a bool is not a number."""

import ast
import os

import numpy as np
import pytest

from keras_wavegpt.utils import validation as V

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                       "keras_wavegpt")


@pytest.mark.parametrize(
    "call,error",
    [
        (lambda: V.check_int("steps", True), TypeError),
        (lambda: V.check_int("steps", 2.0), TypeError),
        (lambda: V.check_int("steps", "2"), TypeError),
        (lambda: V.check_int("steps", 0), ValueError),
        (lambda: V.check_int("steps", 3, minimum=4), ValueError),
        (lambda: V.check_int("steps", None), TypeError),
        (lambda: V.check_number("steps", False), TypeError),
        (lambda: V.check_number("steps", "0.5"), TypeError),
        (lambda: V.check_number("steps", float("nan")), ValueError),
        (lambda: V.check_number("steps", 1.0, 0.0, 1.0, high_open=True), ValueError),
        (lambda: V.check_number("steps", 0.0, 0.0, low_open=True), ValueError),
        (lambda: V.check_fraction("steps", 0), ValueError),
        (lambda: V.check_fraction("steps", 1.5), ValueError),
        (lambda: V.check_bool("steps", 1), TypeError),
        (lambda: V.check_choice("steps", "x", ("a", "b")), ValueError),
    ],
)
def test_each_kind_of_mistake_has_one_error_naming_the_argument(call, error):
    with pytest.raises(error, match="`steps`"):
        call()


def test_good_values_pass_and_come_back_as_python_numbers():
    assert V.check_int("n", np.int64(3)) == 3 and type(V.check_int("n", np.int64(3))) is int
    assert V.check_int("n", None, allow_none=True) is None
    assert V.check_number("x", np.float32(0.5), 0.0, 1.0) == 0.5
    assert V.check_fraction("x", 1) == 1.0
    assert V.check_choice("x", None, (None, "a")) is None
    V.check_positive_ints(a=1, b=np.int32(2))


def test_no_module_imports_a_private_name_from_another():
    offenders = []
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_wavegpt"):
                    offenders += [f"{path}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert not offenders, offenders


def test_the_positive_integer_check_is_written_once():
    copies = []
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py") and name != "validation.py":
                with open(os.path.join(root, name)) as f:
                    if "must be a positive integer" in f.read():
                        copies.append(name)
    assert not copies, copies
