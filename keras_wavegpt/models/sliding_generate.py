"""Cached generation past a model's context, one window at a time."""

import keras_hub
import numpy as np
from keras import ops

from keras_wavegpt.utils.validation import check_int


def sampler_with_seed(name, seed=None):
    """A keras_hub sampler by name, seeded where it draws at random.

    Args:
        name: str. A keras_hub sampler name (`"greedy"`, `"top_k"`,
            `"top_p"`, `"random"`, `"beam"`, `"contrastive"`).
        seed: int or `None`. The random samplers' seed. Defaults to `None`.

    Returns:
        A `keras_hub.samplers.Sampler`.

    Example:

    >>> sampler_with_seed("top_k", seed=3).seed
    3
    """
    sampler = keras_hub.samplers.get(name)
    if seed is not None and "seed" in sampler.get_config():
        sampler = type(sampler)(**{**sampler.get_config(), "seed": seed})
    return sampler


def sliding_generate(causal_lm, prompt, max_length, stride=None):
    """Continue token ids to `max_length`, past the model's context if need be.

    Each window is one cached `causal_lm.generate` call with the sampler the
    model was compiled with: it keeps the last `context - stride` tokens as
    its prompt and adds up to `stride` new ones. Within a window every token
    sees the whole window; across windows the model forgets what slid out,
    as it did in training, whose windows were `context` long.

    Args:
        causal_lm: a keras_hub causal LM without a preprocessor whose
            backbone has a `max_sequence_length` (`WaveletGPTCausalLM`,
            `MixerLlamaCausalLM`), compiled with its sampler.
        prompt: array of int. Token ids `(B, P)` or `(P,)`, `P >= 1`.
        max_length: int. Length of each returned sequence, prompt included;
            greater than `P`.
        stride: int or `None`. New tokens per window, below the context.
            Defaults to `None`, half the context.

    Returns:
        int32 numpy array `(B, max_length)` (`(max_length,)` for a 1-D prompt).

    Example:

    >>> from keras_wavegpt.models import build_gpt, gpt_preset
    >>> lm = build_gpt(27, mixer="haar", **gpt_preset("tiny"))  # context 32
    >>> lm.compile(sampler="greedy")
    >>> tokens = sliding_generate(lm, np.array([20, 8, 5, 0]), 50)
    >>> tokens.shape, tokens[:4].tolist()
    ((50,), [20, 8, 5, 0])
    """
    context = causal_lm.backbone.max_sequence_length
    stride = context // 2 if stride is None else stride
    check_int("stride", stride, minimum=1)
    if stride >= context:
        raise ValueError(f"`stride`={stride} must be below the model's context {context}")
    tokens = np.asarray(prompt)
    squeeze = tokens.ndim == 1
    tokens = tokens[None] if squeeze else tokens
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer) or tokens.shape[1] < 1:
        raise ValueError(
            "`prompt` must be integer token ids of shape (batch, length) or (length,) with "
            f"length >= 1, got dtype {tokens.dtype} shape {tokens.shape}"
        )
    check_int("max_length", max_length, minimum=tokens.shape[1] + 1)
    tokens = tokens.astype("int32")
    while tokens.shape[1] < max_length:
        new = min(stride, max_length - tokens.shape[1])
        kept = min(tokens.shape[1], context - new)
        window = np.zeros((len(tokens), kept + new), "int32")  # (B, W)
        window[:, :kept] = tokens[:, -kept:]
        mask = np.arange(kept + new)[None] < kept  # (1, W)
        out = causal_lm.generate(
            {"token_ids": window, "padding_mask": np.repeat(mask, len(tokens), axis=0)},
            stop_token_ids=None,
        )
        new_ids = ops.convert_to_numpy(out["token_ids"])[:, kept:]
        tokens = np.concatenate([tokens, new_ids.astype("int32")], axis=1)
    return tokens[0] if squeeze else tokens
