"""Run records: the small file each finished run leaves, enough to redraw it.

A run's folder (checkpoints, backups, TensorBoard) is large and dies with
its machine. Its record is a few kilobytes of JSON that the repository can
keep: the run's settings, the code it ran, its seed, its step times and its
validation curve at every evaluation. `tools/compare_runs.py` builds every
table and plot of `docs/results.md` from records alone.

The runner writes `record.json` into each run folder when the run finishes;
`publish_record` copies one under a study's folder (`results/<study>/`),
named by its job.
"""

import datetime
import json
import os
import platform
import subprocess

from keras_wavegpt.utils.files import write_json
from keras_wavegpt.version import VERSION

RECORD_FORMAT = 1
RECORD_FILE = "record.json"


def code_version(path=None):
    """The code a run executes: the package version and its git commit.

    Args:
        path: str or `None`. A folder inside the checkout to ask git about.
            Defaults to `None`, the folder this package was imported from.

    Returns:
        dict with `"version"`, `"commit"` (`None` outside a git checkout)
        and `"dirty"`: the package's files that differ from the commit
        (`None` when unknown).
    """
    path = path or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    version = {"version": VERSION, "commit": None, "dirty": None}
    try:
        commit = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10)
        status = subprocess.run(
            ["git", "-C", path, "status", "--porcelain", "--", ":/keras_wavegpt",
             ":/experiments"],
            capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return version
    if commit.returncode == 0 and status.returncode == 0:
        version["commit"] = commit.stdout.strip()
        version["dirty"] = sorted(line[3:] for line in status.stdout.splitlines())
    return version


def utc_now():
    """The time now, UTC, as ISO 8601 to the second (a record's `started`
    and `finished`)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _processor():
    """The CPU's name, or `None`: `platform.processor()` is empty on Linux,
    whose `/proc/cpuinfo` names it (step times are only comparable on the
    same CPU)."""
    name = platform.processor()
    if not name and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), None)
    return name or None


def environment():
    """Where a run ran: backend, library versions, machine, CPU, threads and
    allocator settings.

    Returns:
        dict of strings and numbers.
    """
    import keras

    return {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _processor(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        "hostname": platform.node(),
    }


def make_record(run, label, mixer, mixer_kwargs, settings, code=None, started=None):
    """A run record: a runner's per-run numbers with what produced them.

    Args:
        run: dict. The runner's per-run numbers (`"seed"`, `"curve"`,
            `"final_val_loss"`, `"sec_per_step"`, ...).
        label: str. The variant's label in its comparison.
        mixer: str. The mixer (or chain) the variant trains.
        mixer_kwargs: dict. The mixer's arguments.
        settings: dict. How it was trained (`TrainConfig` fields and the
            data and model settings).
        code: dict or `None`. `code_version()`, read at start-up. Defaults
            to `None`: read now.
        started: str or `None`. ISO time the comparison started. Defaults
            to `None`.

    Returns:
        dict, JSON-ready.
    """
    return {
        "format": RECORD_FORMAT,
        "label": label,
        "mixer": mixer,
        "mixer_kwargs": _plain(mixer_kwargs),
        **run,
        "settings": _plain(settings),
        "code": code or code_version(),
        "environment": environment(),
        "started": started,
        "finished": utc_now(),
    }


def _plain(value):
    """JSON-ready: tuples become lists, keys strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def read_record(path):
    """Reads one run record.

    Args:
        path: str. A record's JSON file.

    Returns:
        dict.

    Raises:
        ValueError: the file is not a run record.
    """
    with open(path) as f:
        try:
            record = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(record, dict) or "format" not in record or "curve" not in record:
        raise ValueError(f"{path} is not a run record (no 'format' and 'curve')")
    if record["format"] > RECORD_FORMAT:
        raise ValueError(f"{path} is a record of format {record['format']}; this version "
                         f"reads up to {RECORD_FORMAT}")
    return record


def publish_record(run_dir, destination, **fields):
    """Copies a finished run's record to where the repository keeps it.

    Args:
        run_dir: str. The run's folder (holding `record.json`), or the
            record file itself.
        destination: str. The record's new path, e.g.
            `results/llama/llama_haar_8e-3_s0.json`.
        **fields: str. Fields to set on the copy, e.g. `study=` and
            `name=` (the name its tables group runs by).

    Raises:
        FileNotFoundError: the run has no record (it has not finished).
    """
    source = run_dir if run_dir.endswith(".json") else os.path.join(run_dir, RECORD_FILE)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"No run record at {source}; has the run finished?")
    record = read_record(source)
    record.update(fields)
    write_json(destination, record)
