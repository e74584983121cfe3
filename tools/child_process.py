"""What the benchmark tools share: interleaved timing, and one backend's
measurement in a child process."""

import json
import os
import subprocess
import sys
import time


def interleaved_median(fns, rounds, warmups=2):
    """Median seconds per call of each fn, calling them in turn each round
    (after `warmups` untimed calls each: trace and compile), so machine
    noise hits all alike."""
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
    """Run `cmd` under `KERAS_BACKEND=backend` and return the JSON printed
    after its last `RESULT ` line; exit with its error output if it failed."""
    out = subprocess.run(cmd, env=dict(os.environ, KERAS_BACKEND=backend),
                         capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"{backend} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def rerun(script, backend, *extra):
    """`run_child` of `script` with this command line's flags, then `extra`
    (absl lets a later flag override an earlier one)."""
    return run_child([sys.executable, script, *sys.argv[1:], *extra], backend)
