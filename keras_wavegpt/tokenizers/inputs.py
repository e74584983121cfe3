"""What tokenizers accept: strings and token ids in the shapes users pass."""

import keras
import numpy as np


def as_strings(inputs, tokenizer, keep_bytes=False):
    """(list of str, batched) from a str, bytes, list/array of them, or a
    string tensor; `bytes` stay bytes with `keep_bytes`. `tokenizer` names
    the caller in the error for other types."""
    if hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):
        inputs = inputs.numpy()
    if isinstance(inputs, np.ndarray):
        inputs = inputs.tolist()
    if isinstance(inputs, (str, bytes)):
        inputs, batched = [inputs], False
    elif isinstance(inputs, (list, tuple)):
        batched = True
    else:
        raise TypeError(f"{tokenizer} takes strings, got {type(inputs).__name__}")
    if keep_bytes:
        return [t if isinstance(t, bytes) else str(t) for t in inputs], batched
    return [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t)
            for t in inputs], batched


def as_rows(inputs):
    """(list of lists of int, batched) from ids: an int, a list, a list of
    lists, or an array or tensor of rank 0-2."""
    if not isinstance(inputs, (int, np.integer, list, tuple)):
        inputs = keras.ops.convert_to_numpy(inputs).tolist()
    if isinstance(inputs, (int, np.integer)):
        return [[int(inputs)]], False
    if not inputs or isinstance(inputs[0], (int, np.integer)):
        return [[int(i) for i in inputs]], False
    return [[int(i) for i in row] for row in inputs], True
