"""A quiet start: TensorFlow's and CUDA's start-up lines kept off stderr.

TensorFlow 2.19 and later write their start-up lines from C++ while being
imported (oneDNN, CPU instructions, CUDA drivers not found, absl's
InitializeLog notice) and when they first list devices (cuInit failed on a
machine without a GPU), before `TF_CPP_MIN_LOG_LEVEL` is read. So the
package imports TensorFlow once, at its own import, with file descriptor 2
captured, and writes back every captured line except those.
`TF_CPP_MIN_LOG_LEVEL=0`, a request for every line, leaves TensorFlow's
output untouched. (Any other value asks for fewer lines; JAX sets it to 1
at its import, so its presence says nothing of the user's wish.)
"""

import contextlib
import os
import re
import sys
import tempfile

# The start-up lines TensorFlow and XLA print on a machine without a GPU.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called|"
    r"^[IWE]\d{4} [\d:. ]+\d+ (port\.cc|cudart_stub\.cc|cpu_feature_guard\.cc|"
    r"cuda_platform\.cc|cuda_dnn\.cc|cuda_fft\.cc|cuda_blas\.cc|computation_placer\.cc)|"
    r"^To enable the following instructions: .* rebuild TensorFlow"
)


@contextlib.contextmanager
def filtered_stderr():
    """Captures what is written to file descriptor 2 inside, then writes it
    back to stderr without the lines `NOISE` matches."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not NOISE.search(line)))
            sys.stderr.flush()


def quiet_start():
    """Imports TensorFlow (where installed) and lists its devices with its
    start-up lines filtered out; nothing when TensorFlow is already imported
    or `TF_CPP_MIN_LOG_LEVEL` is 0."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return
    with filtered_stderr():
        try:
            import tensorflow as tf
        except ImportError:
            return
        tf.config.list_physical_devices("GPU")
