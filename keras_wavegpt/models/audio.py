"""The Audio Transformer of WaveletGPT §4.4 (after Verma & Berger, 2021).

    waveform (B, S), S = sample_rate * clip_seconds
      -> patches of `patch` samples (25 ms at 16 kHz)         (B, P, patch, 1)
      -> Conv1D(num_filters, filter_length) inside each patch
         (a Conv2D with a 1 x filter_length kernel)           (B, P, patch - F + 1, C)
      -> max over each patch                                  (B, P, C)
      -> Dense(hidden_dim) + learned position embedding       (B, P, E)
      -> Transformer blocks, mixers in the gaps, LayerNorm    (B, P, E)
      -> mean over patches -> Dense(head_hidden_dim, gelu)    (B, 2048)
      -> Dense(num_classes)                                   logits (B, C)

Attention is bidirectional (the paper's baseline is an audio encoder); the
wavelet mixers stay causal moving averages over the patch sequence. The
front end has no activation: the max over each patch is its nonlinearity.
"""

import keras
import keras_hub

from keras_wavegpt.layers.registry import mixer_scope
from keras_wavegpt.models.gpt import block_stack
from keras_wavegpt.utils.validation import check_int


def build_audio_transformer(
    num_classes,
    sample_rate=16000,
    clip_seconds=1.0,
    num_filters=128,
    filter_length=200,
    patch=400,
    hidden_dim=64,
    num_layers=6,
    num_heads=8,
    intermediate_dim=256,
    head_hidden_dim=2048,
    mixer="none",
    dropout=0.0,
    name=None,
    **mixer_kwargs,
):
    """Build the Audio Transformer classifier of WaveletGPT §4.4 (`docs/design.md`,
    "Audio Transformer").

    Args:
        num_classes: int. Output classes, at least 2 (FSD-50K: 200).
        sample_rate: int. Samples per second of the input clip (the paper's
            16 kHz). Defaults to `16000`.
        clip_seconds: float. Clip length; `sample_rate * clip_seconds` must
            be a whole number of patches. Defaults to `1.0`.
        num_filters: int. Learned front-end filters (the paper's 128).
            Defaults to `128`.
        filter_length: int. Samples per filter (the paper's 200); at most
            `patch`. Defaults to `200`.
        patch: int. Samples per patch, max-pooled to one vector (the
            paper's 400 = 25 ms). Defaults to `400`.
        hidden_dim: int. Transformer width (the paper's 64). Defaults to
            `64`.
        num_layers: int. Transformer blocks (the paper's 6). Defaults to
            `6`.
        num_heads: int. Attention heads (not given in the paper). Defaults
            to `8`.
        intermediate_dim: int. MLP width (not given in the paper). Defaults
            to `256`.
        head_hidden_dim: int. The dense layer before the class logits (the
            paper's 2048). Defaults to `2048`.
        mixer: str. A registered mixer between the blocks; wavelet mixers
            default `max_kernel` to the largest power of two `<=` the number
            of patches. Defaults to `"none"`.
        dropout: float. Dropout inside the blocks. Defaults to `0.0`.
        name: str or `None`. Model name. Defaults to `None`,
            `"audio_transformer_<mixer>"`.
        **mixer_kwargs: the mixer's arguments.

    Returns:
        A `keras.Model` from float waveforms `(B, S)` in [-1, 1] to float32
        class logits `(B, num_classes)`: sigmoid them for multi-label tags
        (train with `BinaryCrossentropy(from_logits=True)`), softmax for one
        class per clip.

    Example:
        >>> model = build_audio_transformer(200, mixer="haar")
        >>> model.output_shape
        (None, 200)
    """
    check_int("num_classes", num_classes, minimum=2)
    for name, value in (("sample_rate", sample_rate), ("num_filters", num_filters),
                        ("filter_length", filter_length), ("patch", patch)):
        check_int(name, value)
    samples = sample_rate * clip_seconds
    if clip_seconds <= 0 or samples != int(samples) or int(samples) % patch:
        raise ValueError(
            f"`sample_rate` * `clip_seconds` = {samples:g} samples must be a positive "
            f"multiple of `patch`={patch}"
        )
    if filter_length > patch:
        raise ValueError(f"`filter_length`={filter_length} must be <= `patch`={patch}")
    samples = int(samples)
    patches = samples // patch

    wave = keras.Input(shape=(samples,), name="waveform")  # (B, S)
    x = keras.layers.Reshape((patches, patch, 1), name="patches")(wave)  # (B, P, W, 1)
    x = keras.layers.Conv2D(num_filters, (1, filter_length), name="filters")(x)  # (B, P, W-F+1, C)
    x = keras.layers.MaxPooling2D((1, patch - filter_length + 1), name="patch_max")(x)
    x = keras.layers.Reshape((patches, num_filters), name="patch_vectors")(x)  # (B, P, C)
    x = keras.layers.Dense(hidden_dim, name="project")(x)  # (B, P, E)
    x = x + keras_hub.layers.PositionEmbedding(patches, name="position_embedding")(x)
    x = block_stack(x, patches, num_layers, num_heads, intermediate_dim, mixer=mixer,
                    dropout=dropout, causal=False, **mixer_kwargs)  # (B, P, E)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)  # (B, E)
    x = keras.layers.Dense(head_hidden_dim, activation="gelu", name="head")(x)  # (B, 2048)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)  # (B, C)
    return keras.Model(wave, logits, name=name or f"audio_transformer_{mixer_scope(mixer)}")
