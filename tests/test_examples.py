"""Every `>>>` example in the package's docstrings, and every Python block of
README.md, runs and prints what it says, on each backend."""

import doctest
import inspect
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


def _undocumented(module):
    """Public callables of `module` with arguments but no `Args:` section:
    functions, classes (their constructor), and methods that do not
    override a method of a base class."""
    def takes_arguments(fn):
        params = list(inspect.signature(fn).parameters)
        return bool([p for p in params if p not in ("self", "cls")])

    def lacks_args(obj):
        return "Args:" not in (inspect.getdoc(obj) or "")

    found = []
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) and takes_arguments(obj) and lacks_args(obj):
            found.append(name)
        if not inspect.isclass(obj):
            continue
        if takes_arguments(obj.__init__) and lacks_args(obj):
            found.append(name)
        for attr, member in vars(obj).items():
            fn = getattr(member, "__func__", member)
            inherited = any(hasattr(base, attr) for base in obj.__mro__[1:])
            if (attr.startswith("_") or inherited or not inspect.isfunction(fn)
                    or not takes_arguments(fn) or not lacks_args(fn)):
                continue
            found.append(f"{name}.{attr}")
    return found


def test_public_callables_document_their_arguments():
    names = [m.name for m in pkgutil.walk_packages(keras_wavegpt.__path__, "keras_wavegpt.")]
    missing = {name: _undocumented(importlib.import_module(name)) for name in names}
    assert not {name: found for name, found in missing.items() if found}
