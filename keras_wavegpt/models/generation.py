"""Sampling from a trained GPT with keras_hub's samplers."""

import keras_hub
import numpy as np
from keras import ops

SAMPLERS = ("greedy", "top_k", "temperature")


def _sampler(sampler, temperature, k, seed):
    if isinstance(sampler, keras_hub.samplers.Sampler):
        return sampler
    if sampler == "greedy":
        return keras_hub.samplers.GreedySampler()
    if sampler == "top_k":
        return keras_hub.samplers.TopKSampler(k=k, seed=seed, temperature=temperature)
    if sampler == "temperature":
        return keras_hub.samplers.RandomSampler(seed=seed, temperature=temperature)
    raise ValueError(
        f"Unknown sampler {sampler!r}; accepted values: {SAMPLERS} or a "
        "keras_hub.samplers.Sampler"
    )


def _context_length(model):
    """The learned positions of a `build_gpt` model; `None` for a model with
    none (`build_llama`'s rotary positions)."""
    names = {layer.name for layer in model.layers}
    return int(model.get_layer("embedding").sequence_length) if "embedding" in names else None


def generate(model, prompt, max_length, sampler="greedy", temperature=1.0, k=5, seed=None):
    """Continue `prompt` to `max_length` tokens with a causal LM from `build_gpt`.

    Each new token is drawn by a keras_hub sampler from the logits at the
    last filled position, which come from a full forward pass over the window
    of the latest `min(max_length, max_sequence_length)` tokens (positions not yet
    filled are zeros; the model is causal, so they do not affect the logits
    read). There is no KV cache: the wavelet, filterbank and multirate mixers
    read the whole window, so a token costs one forward pass of the window,
    and `n` new tokens cost `n` passes. The samplers work in float32 whatever
    the model's dtype policy.

    Args:
        model: `keras.Model`. A `build_gpt` or `build_llama` model (tokens
            `(B, T)` -> logits `(B, T, V)`), e.g. from `keras.saving.load_model`.
        prompt: array of int. Token ids `(B, P)` or `(P,)`,
            `1 <= P < max_length`.
        max_length: int. Total length of each returned sequence (prompt
            included). Longer than a `build_gpt` model's context: the window
            slides.
        sampler: str or `keras_hub.samplers.Sampler`. `"greedy"`,
            `"top_k"`, `"temperature"`, or a sampler. Defaults to
            `"greedy"`.
        temperature: float. Softmax temperature of the random samplers.
            Defaults to `1.0`.
        k: int. Candidates of `"top_k"`. Defaults to `5`.
        seed: int or `None`. Seed of the random samplers. Defaults to
            `None`.

    Returns:
        int32 numpy array `(B, max_length)` (`(max_length,)` for a 1-D prompt).

    Example:

    >>> from keras_wavegpt.models import build_gpt, gpt_preset
    >>> model = build_gpt(27, mixer="haar", **gpt_preset("tiny"))
    >>> tokens = generate(model, np.array([20, 8, 5, 0]), 12, sampler="greedy")
    >>> tokens.shape, tokens[:4].tolist()
    ((12,), [20, 8, 5, 0])
    """
    prompt = np.asarray(prompt)
    squeeze = prompt.ndim == 1
    if squeeze:
        prompt = prompt[None]
    if prompt.ndim != 2 or not np.issubdtype(prompt.dtype, np.integer):
        raise ValueError(
            f"`prompt` must be integer token ids of shape (batch, length) or (length,), "
            f"got dtype {prompt.dtype} shape {prompt.shape}"
        )
    batch, length = prompt.shape
    vocab = int(model.output_shape[-1])
    if length < 1:
        raise ValueError("`prompt` is empty: give at least one token")
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) \
            or max_length <= length:
        raise ValueError(
            f"`max_length` must be an integer greater than the prompt length {length}, "
            f"got {max_length!r}"
        )
    if prompt.min() < 0 or prompt.max() >= vocab:
        raise ValueError(
            f"`prompt` ids must be in [0, {vocab}), got values in "
            f"[{prompt.min()}, {prompt.max()}]"
        )
    window = min(int(max_length), _context_length(model) or int(max_length))
    sampler = _sampler(sampler, temperature, k, seed)

    def next_logits(tokens, cache, index):
        # The window ends at the last filled position, index - 1.
        start = ops.maximum(index - window, 0)
        view = ops.slice(tokens, [0, start], [batch, window])  # (B, W)
        logits = model(view, training=False)  # (B, W, V)
        last = ops.take(logits, index - 1 - start, axis=1)  # (B, V)
        return ops.cast(last, "float32"), None, cache

    buffer = np.zeros((batch, int(max_length)), "int32")
    buffer[:, :length] = prompt
    out = sampler(next_logits, ops.convert_to_tensor(buffer), index=length, model=model)
    out = np.asarray(ops.convert_to_numpy(out)).astype("int32")
    return out[0] if squeeze else out
