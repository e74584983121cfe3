"""Files a long run can trust: atomic writes, folder swaps, one writer a folder.

Every file the package writes goes to a temporary name in its own folder
and is renamed into place when complete, so a kill or a full disk leaves
either the old file or the new one, never half of one. A run folder is held
by one process at a time (`FolderLock`).
"""

import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import socket
import sys

from keras_wavegpt.utils.errors import FolderInUseError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; FolderLock is a no-op there
    fcntl = None


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside `path` that becomes `path` on success.

    Write the file to the yielded path; when the block ends without an
    error, it is renamed to `path` (atomic within a folder). On an error
    the temporary file is removed and `path` is untouched.

    The temporary name is fixed (`.<name>.tmp<ext>`): one writer a folder
    (`FolderLock`), and a kill's leftover is overwritten and renamed by the
    next write of the same file.

    Args:
        path: str or path. The file to write.

    Yields:
        str, the temporary path (same folder and extension, so writers that
        look at the extension, such as `.keras` or `.png`, still work).
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(name)
    tmp = os.path.join(folder, f".{stem}.tmp{ext}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Writes text atomically, flushed to disk before the rename.

    Args:
        path: str or path. The file.
        text: str. Its contents.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def write_json(path, value):
    """Writes JSON atomically (indented, one trailing newline).

    Args:
        path: str or path. The file.
        value: JSON-ready object.
    """
    write_text(path, json.dumps(value, indent=1) + "\n")


def save_figure(figure, path, **kwargs):
    """`figure.savefig`, atomically.

    Args:
        figure: `matplotlib.figure.Figure`.
        path: str. The image file; its extension picks the format.
        **kwargs: `savefig` arguments (`dpi`, ...).
    """
    with atomic_path(path) as tmp:
        figure.savefig(tmp, **kwargs)


def file_digest(path):
    """The size and SHA-256 of a file, as a backup's manifest records them.

    Args:
        path: str. The file.

    Returns:
        dict with `"size"` (bytes) and `"sha256"` (hex).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {"size": os.path.getsize(path), "sha256": digest.hexdigest()}


_RENAME_EXCHANGE = 2


def _exchange(a, b):
    """Swaps two paths in one step (Linux `renameat2`); False where the
    system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_cwd = -100
    result = renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def replace_folder(new, target):
    """Moves a complete folder `new` to `target`, replacing any folder there.

    Where the system can (Linux), the two are exchanged in one step, so
    `target` always names a whole folder, the old one until the new one is
    in place; elsewhere the old folder is first renamed aside. The old
    folder is then removed.

    Args:
        new: str. The complete folder.
        target: str. Where it goes.
    """
    if not os.path.exists(target):
        os.replace(new, target)
        return
    if not _exchange(new, target):
        aside = f"{new}.old"
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(target, aside)
        os.replace(new, target)
        new = aside
    shutil.rmtree(new, ignore_errors=True)


class FolderLock:
    """An exclusive lock on a folder for as long as a run writes there.

    The lock is an advisory `flock` on `<folder>/.lock`, which records the
    holder's process id, host and command line. The operating system
    releases it when the process ends, however it ends, so a killed run
    never blocks its own resume. A second process that asks for it stops at
    once with `FolderInUseError`, touching nothing else.

    Args:
        folder: str. The run folder (created if missing).

    Example:

    >>> import tempfile
    >>> with FolderLock(tempfile.mkdtemp()):
    ...     pass  # write the run's files here
    """

    FILE = ".lock"
    _held = {}  # real path -> how many FolderLocks of this process hold it

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        self._file = None
        self._key = None

    def acquire(self):
        """Takes the lock (again, at no cost, where this process holds it).

        Raises:
            FolderInUseError: another process holds it.
        """
        if fcntl is None or self._key is not None:
            return
        os.makedirs(self.folder, exist_ok=True)
        key = os.path.realpath(self.folder)
        if key in FolderLock._held:
            FolderLock._held[key] += 1
            self._key = key
            return
        path = os.path.join(self.folder, self.FILE)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise FolderInUseError(
                f"{self.folder} is in use by {holder}; wait for that run to end, or give "
                "another --out_dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()} "
                     f"({' '.join(sys.argv)[:200]})\n")
        handle.flush()
        self._file, self._key = handle, key
        FolderLock._held[key] = 1

    def release(self):
        """Gives the lock back (closing its file releases it)."""
        if self._key is None:
            return
        FolderLock._held[self._key] -= 1
        if not FolderLock._held[self._key]:
            del FolderLock._held[self._key]
        self._key = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


PRESET_MANIFEST = "manifest.json"


def _is_preset_file(name):
    return name.endswith((".json", ".h5")) or name == "assets"


def check_preset_destination(path):
    """Refuses a folder that a preset save would harm.

    A preset replaces the folder it is saved to, so that folder must be new,
    empty, or a preset already (keras_hub's `*.json` and `*.h5` files and
    `assets`); never the current directory or a folder above it.

    Args:
        path: str. Where the preset would go.

    Raises:
        ValueError: the folder holds other files, is a file, or holds the
            current directory.
    """
    real, here = os.path.realpath(path), os.path.realpath(os.getcwd())
    if here == real or here.startswith(real.rstrip(os.sep) + os.sep):
        raise ValueError(
            f"Not saving a preset into {path}: it is the current directory or holds it, "
            "and a preset replaces its folder; name a new folder")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"Not saving a preset into {path}: it is a file")
    if not os.path.isdir(path):
        return
    names = sorted(os.listdir(path))
    strangers = [n for n in names if not _is_preset_file(n)]
    if names and (strangers or "config.json" not in names):
        shown = ", ".join((strangers or names)[:5]) + (", ..." if len(strangers) > 5 else "")
        raise ValueError(
            f"Not saving a preset into {path}: it holds files that are not a preset "
            f"({shown}), which the save would delete; name a new or empty folder")


def write_preset_manifest(folder):
    """Records the size and SHA-256 of every file of a preset folder.

    Args:
        folder: str. The complete preset.
    """
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            files[os.path.relpath(path, folder)] = file_digest(path)
    write_json(os.path.join(folder, PRESET_MANIFEST), {"files": files})


def damaged_preset_file(folder):
    """What is wrong with a local preset's files, if anything.

    With the manifest that `write_preset_manifest` wrote, every file is
    checked against it; without one (an older preset), every `.json` must
    parse and every `.h5` must open.

    Args:
        folder: str. A preset folder.

    Returns:
        str naming the damaged file and how, or `None`.
    """
    if not os.path.isdir(folder):
        return None
    manifest = os.path.join(folder, PRESET_MANIFEST)
    if os.path.isfile(manifest):
        try:
            with open(manifest) as f:
                files = json.load(f)["files"]
        except (ValueError, KeyError, TypeError) as error:
            return f"{manifest} is unreadable ({error})"
        for name, expected in sorted(files.items()):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                return f"{path} is missing"
            if file_digest(path) != expected:
                return (f"{path} has {os.path.getsize(path)} bytes and another checksum than "
                        f"the {expected['size']} bytes saved")
        return None
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        try:
            if name.endswith(".json"):
                with open(path) as f:
                    json.load(f)
            elif name.endswith(".h5"):
                import h5py

                h5py.File(path, "r").close()
        except (OSError, ValueError) as error:
            return f"{path} does not load ({str(error).splitlines()[0] if str(error) else error})"
    return None


def raise_if_damaged(preset, error):
    """After a failed `from_preset`: a `ValueError` naming the damaged file
    of a local preset, if one is; otherwise nothing (re-raise `error`).

    Args:
        preset: str or other handle. What `from_preset` was given.
        error: Exception. What loading raised.

    Raises:
        ValueError: a file of the local preset is damaged.
    """
    damage = damaged_preset_file(preset) if isinstance(preset, str) else None
    if damage:
        raise ValueError(f"Preset {preset} is damaged: {damage}; save it again, or copy it "
                         "whole") from error
