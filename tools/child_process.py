"""What the benchmark tools share: run one backend's measurement in a child process."""

import json
import os
import subprocess
import sys


def run_child(cmd, backend):
    """Run `cmd` under `KERAS_BACKEND=backend` and return the JSON printed
    after its last `RESULT ` line; exit with its error output if it failed."""
    out = subprocess.run(cmd, env=dict(os.environ, KERAS_BACKEND=backend),
                         capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"{backend} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])
