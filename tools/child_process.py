"""What the benchmark tools share: interleaved timing, and one backend's
measurement in a child process."""

import json
import os
import subprocess
import sys
import time


def interleaved_median(fns, rounds, warmups=2):
    """Median seconds per call of each function, timed side by side.

    The functions are called in turn each round, so machine noise hits all
    alike.

    Args:
        fns: dict mapping a name to a function of no arguments.
        rounds: int. Timed calls of each function.
        warmups: int. Untimed calls of each first (trace and compile).
            Defaults to `2`.

    Returns:
        dict mapping each name to its median seconds.
    """
    import numpy as np

    for fn in fns.values():
        for _ in range(warmups):
            fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def run_child(cmd, backend):
    """Runs a command under one backend and reads its result.

    Exits with the child's error output if it failed.

    Args:
        cmd: list of str. The command line.
        backend: str. `KERAS_BACKEND` of the child.

    Returns:
        The JSON the child printed after its last `RESULT ` line.
    """
    out = subprocess.run(cmd, env=dict(os.environ, KERAS_BACKEND=backend),
                         capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"{backend} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def rerun(script, backend, *extra):
    """`run_child` of a script with this command line's flags, then more.

    Args:
        script: str. The script's path.
        backend: str. `KERAS_BACKEND` of the child.
        *extra: str. Flags after this command line's (absl lets a later
            flag override an earlier one).

    Returns:
        The child's JSON result.
    """
    return run_child([sys.executable, script, *sys.argv[1:], *extra], backend)
