"""Atomic writes, folder swaps, the run-folder lock and preset destinations."""

import os
import subprocess
import sys

import pytest

from keras_wavegpt.utils.errors import FolderInUseError
from keras_wavegpt.utils.files import (
    FolderLock,
    atomic_path,
    check_preset_destination,
    damaged_preset_file,
    replace_folder,
    write_json,
    write_preset_manifest,
)
from tests.helpers import once_on

# Plain files and locks: no backend path, so they run once.
pytestmark = once_on("tensorflow", "file and lock utilities")

HOLD = """
import sys, time
from keras_wavegpt.utils.files import FolderLock
with FolderLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_atomic_path_keeps_the_old_file_when_a_write_fails(tmp_path):
    path = tmp_path / "summary.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            assert tmp.endswith(".json") and os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, "w") as f:
                f.write('{"a": 2')  # half written
            raise RuntimeError("killed")
    assert path.read_text() == '{\n "a": 1\n}\n'
    assert os.listdir(tmp_path) == ["summary.json"]


def test_replace_folder_swaps_whole_folders(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text("old")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "config.json").write_text("new")
    replace_folder(str(tmp_path / "new"), str(tmp_path / "old"))
    assert os.listdir(tmp_path) == ["old"]
    assert (tmp_path / "old" / "config.json").read_text() == "new"


def test_a_second_process_is_refused_and_a_killed_holder_never_blocks(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(FolderInUseError, match=rf"is in use by process {holder.pid} on "):
        FolderLock(tmp_path).acquire()
    holder.kill()  # SIGKILL: the operating system releases the lock
    holder.wait()
    with FolderLock(tmp_path), FolderLock(tmp_path):  # and it is reentrant in a process
        pass
    with FolderLock(tmp_path):
        pass


@pytest.mark.parametrize("contents,error", [
    ({"checkpoint.keras": "x"}, "holds files that are not a preset \\(checkpoint.keras\\)"),
    ({"config.json": "{}", "log.csv": ""}, "\\(log.csv\\)"),
    ({"notes.json": "{}"}, "\\(notes.json\\)"),  # json, but no config.json: not a preset
])
def test_preset_destination_refuses_folders_of_other_files(tmp_path, contents, error):
    for name, text in contents.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=error):
        check_preset_destination(str(tmp_path))


def test_preset_destination_refuses_the_current_directory_and_above(tmp_path, monkeypatch):
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    for path in (".", "..", str(tmp_path)):
        with pytest.raises(ValueError, match="is the current directory or holds it"):
            check_preset_destination(path)
    check_preset_destination(str(tmp_path / "run" / "new"))  # a new folder is fine
    (tmp_path / "run" / "preset").mkdir()
    for name in ("config.json", "metadata.json", "model.weights.h5"):
        (tmp_path / "run" / "preset" / name).write_text("{}")
    check_preset_destination("preset")  # an existing preset may be replaced


def test_damaged_preset_file_names_the_file(tmp_path):
    for name in ("config.json", "model.weights.h5"):
        (tmp_path / name).write_text("{}")
    write_preset_manifest(str(tmp_path))
    assert damaged_preset_file(str(tmp_path)) is None
    (tmp_path / "model.weights.h5").write_text("{")
    assert damaged_preset_file(str(tmp_path)).startswith(
        f"{tmp_path / 'model.weights.h5'} has 1 bytes")
    os.remove(tmp_path / "manifest.json")  # an older preset: each file must open
    assert "model.weights.h5 does not load" in damaged_preset_file(str(tmp_path))
