"""WaveletGPT: a pre-LayerNorm GPT with a residual-stream mixer in every gap.

    token_ids (B, T)
      -> token + learned position embedding            (B, T, E)
      -> block_0 -> mixer_1 -> block_1 -> ... -> block_{N-1}
      -> LayerNorm -> Dense(head_hidden_dim, gelu) -> Dense(vocab)  logits (B, T, V)

Each block is keras_hub's `TransformerDecoder` with `normalize_first=True`
(causal multi-head self-attention and a GELU MLP, each behind a LayerNorm and
a residual connection). A "gap" mixer (haar, learnable, filterbank, ...) sits
after block `l` and before block `l + 1` and replaces the stream (Verma,
WaveletGPT §3), so `N` blocks have `N - 1` mixers. A "block" mixer
(multirate) instead fills the DSP slots of every block, which is then the
equivalent `DSPDecoderBlock`:

      -> multirate -> attention -> LFO routing -> MLP -> bottleneck ->

The head follows the paper (§4): a 2048-unit dense layer before the
vocabulary projection.
"""

import keras

from keras_wavegpt.layers.gpt_embedding import GPTEmbedding
from keras_wavegpt.layers.registry import mixer_scope
from keras_wavegpt.models.wavelet_gpt_backbone import (
    WaveletGPTBackbone,
    apply_blocks,
    decoder_blocks,
)
from keras_wavegpt.models.wavelet_gpt_causal_lm import WaveletGPTCausalLM
from keras_wavegpt.utils.validation import check_positive_ints

PRESETS = {
    # The paper's model (WaveletGPT §4): 10 blocks, width 128, context 512.
    "paper": dict(num_layers=10, hidden_dim=128, num_heads=8, intermediate_dim=512,
                  max_sequence_length=512),
    # Trains on a 2-core CPU in minutes; the demo and benchmark size.
    "small": dict(num_layers=4, hidden_dim=128, num_heads=8, intermediate_dim=512,
                  max_sequence_length=128),
    # The small model at the paper's context: the context-512 study.
    "small_512": dict(num_layers=4, hidden_dim=128, num_heads=8, intermediate_dim=512,
                      max_sequence_length=512),
    # Seconds per run; for tests and smoke runs.
    "tiny": dict(num_layers=2, hidden_dim=32, num_heads=4, intermediate_dim=64,
                 max_sequence_length=32),
}


def gpt_preset(name):
    """Architecture arguments of a named preset, for `build_gpt`.

    Args:
        name: str. One of `PRESETS` (`"tiny"`, `"small"`, ...).

    Returns:
        A fresh dict of `build_gpt` arguments.

    Example:

    >>> gpt_preset("tiny")["num_layers"]
    2
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; accepted values: {tuple(PRESETS)}")
    return dict(PRESETS[name])


def build_gpt(
    vocabulary_size,
    max_sequence_length,
    num_layers,
    hidden_dim,
    num_heads,
    intermediate_dim,
    head_hidden_dim=2048,
    mixer="none",
    dropout=0.0,
    name=None,
    **mixer_kwargs,
):
    """Build WaveletGPT §4's language model: a `WaveletGPTCausalLM`.

    A `WaveletGPTBackbone` with the paper's head, from the flat arguments of
    a preset (`gpt_preset`); the runner trains this object with `fit` and
    writes presets and samples from it.

    Args:
        vocabulary_size: int. Number of token ids (27 for text8).
        max_sequence_length: int. The longest input; longer inputs raise a
            `ValueError`.
        num_layers: int. Decoder blocks `N` (gap mixers go in the `N - 1`
            gaps).
        hidden_dim: int. Width `E` of the residual stream.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        intermediate_dim: int. Hidden width of each block's MLP.
        head_hidden_dim: int. Width of the GELU layer before the logits (the
            paper's 2048). Defaults to `2048`.
        mixer: str. A registered mixer name
            (`keras_wavegpt.layers.mixer_names()`) or a chain (`"haar+canon"`).
            Defaults to `"none"`.
        dropout: float. Dropout rate inside the blocks. Defaults to `0.0`.
        name: str or `None`. The model's name. Defaults to `None`,
            `"gpt_<mixer>"`.
        **mixer_kwargs: the mixer's arguments (`fraction`, `schedule`,
            `max_kernel`, ...; `keras_wavegpt.layers.mixer_arguments(mixer)`
            lists them). Wavelet mixers default `max_kernel` to the largest
            power of two `<= max_sequence_length`.

    Returns:
        A `WaveletGPTCausalLM` (no preprocessor) from
        `{"token_ids": (B, T), "padding_mask": (B, T)}` to float32 logits
        `(B, T, vocabulary_size)`. With `mixer="haar"` (or `"ema"`) it has
        exactly as many parameters as with `mixer="none"`.

    Example:

    >>> import numpy as np
    >>> model = build_gpt(27, mixer="haar", **gpt_preset("tiny"))
    >>> inputs = {"token_ids": np.zeros((2, 16), "int32"),
    ...           "padding_mask": np.ones((2, 16), "int32")}
    >>> tuple(model(inputs).shape)
    (2, 16, 27)
    >>> model.count_params() == build_gpt(27, **gpt_preset("tiny")).count_params()
    True
    """
    backbone = WaveletGPTBackbone(
        vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, max_sequence_length,
        dropout=dropout, mixer=mixer, mixer_config=mixer_kwargs,
    )
    return WaveletGPTCausalLM(backbone, head_hidden_dim=head_hidden_dim,
                              name=name or f"gpt_{mixer_scope(mixer)}")


def decoder_stack(
    tokens,
    vocabulary_size,
    max_sequence_length,
    num_layers,
    hidden_dim,
    num_heads,
    intermediate_dim,
    head_hidden_dim=2048,
    mixer="none",
    dropout=0.0,
    **mixer_kwargs,
):
    """The trunk of the token models: embedding, then `block_stack`.

    Args:
        tokens: symbolic int tensor of shape `(B, T)`.
        vocabulary_size, max_sequence_length, num_layers, hidden_dim,
            num_heads, intermediate_dim, head_hidden_dim, mixer, dropout,
            **mixer_kwargs: as `build_gpt`'s (checked here).

    Returns:
        symbolic tensor of shape `(B, T, hidden_dim)`.
    """
    check_positive_ints(vocabulary_size=vocabulary_size, hidden_dim=hidden_dim,
                        head_hidden_dim=head_hidden_dim)
    x = GPTEmbedding(
        vocabulary_size,
        max_sequence_length,
        hidden_dim,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
        name="embedding",
    )(tokens)  # (B, T, E)
    return block_stack(x, max_sequence_length, num_layers, num_heads, intermediate_dim,
                       mixer=mixer, dropout=dropout, **mixer_kwargs)


def block_stack(x, max_sequence_length, num_layers, num_heads, intermediate_dim,
                mixer="none", dropout=0.0, causal=True, **mixer_kwargs):
    """Pre-LayerNorm Transformer blocks with the mixer, then a LayerNorm.

    Gap mixers go between blocks, block mixers inside them (see
    `decoder_blocks`).

    Args:
        x: symbolic tensor of shape `(B, T, E)`.
        max_sequence_length, num_layers, num_heads, intermediate_dim, mixer,
            dropout, **mixer_kwargs: as `build_gpt`'s.
        causal: bool. `False` makes the attention bidirectional (an encoder,
            as the Audio Transformer's); the mixers stay causal filters
            either way. Defaults to `True`.

    Returns:
        symbolic tensor of shape `(B, T, E)`.
    """
    blocks, mixers = decoder_blocks(max_sequence_length, num_layers, num_heads,
                                    intermediate_dim, x.shape[-1], mixer=mixer, dropout=dropout,
                                    causal=causal, **mixer_kwargs)
    x = apply_blocks(x, blocks, mixers)
    return keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
