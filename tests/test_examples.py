"""Every `>>>` example in the package's docstrings, and every Python block of
README.md, runs and prints what it says, on each backend."""

import doctest
import importlib
import os
import pkgutil
import re

import pytest

import keras_wavegpt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(keras_wavegpt.__path__, "keras_wavegpt.")
    if ">>>" in open(importlib.util.find_spec(m.name).origin).read()
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and not result.failed


def test_readme_python_blocks(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)  # the quickstart saves a preset in the working folder
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert os.path.isdir(tmp_path / "my_wavegpt")
