"""What tokenizers accept: strings and token ids in the shapes users pass."""

import keras
import numpy as np


def as_strings(inputs, tokenizer, keep_bytes=False):
    """The texts of a tokenizer's input, as a list.

    Args:
        inputs: a str, bytes, a list or array of them, or a string tensor.
        tokenizer: str. The caller's name, for the error on other types.
        keep_bytes: bool. Whether `bytes` stay bytes (else they are read as
            UTF-8). Defaults to `False`.

    Returns:
        tuple `(texts, batched)`: a list of str (or bytes), and whether
        `inputs` was a batch.
    """
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
    """The rows of token ids a `detokenize` call was given.

    Args:
        inputs: an int, a list, a list of lists, or an array or tensor of
            rank 0 to 2.

    Returns:
        tuple `(rows, batched)`: a list of lists of int, and whether
        `inputs` was a batch.
    """
    if not isinstance(inputs, (int, np.integer, list, tuple)):
        inputs = keras.ops.convert_to_numpy(inputs).tolist()
    if isinstance(inputs, (int, np.integer)):
        return [[int(inputs)]], False
    if not inputs or isinstance(inputs[0], (int, np.integer)):
        return [[int(i) for i in inputs]], False
    return [[int(i) for i in row] for row in inputs], True
