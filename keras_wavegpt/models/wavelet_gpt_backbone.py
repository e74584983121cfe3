"""WaveletGPT backbone: a pre-LayerNorm GPT with a mixer in every gap."""

import keras
import keras_hub

from keras_wavegpt.layers.dsp_decoder_block import DSPDecoderBlock
from keras_wavegpt.layers.gpt_embedding import GPTEmbedding
from keras_wavegpt.layers.registry import get_mixer, mixer_placement
from keras_wavegpt.models.checked_preset import CheckedPreset
from keras_wavegpt.utils.validation import check_number, check_positive_ints


def decoder_blocks(max_sequence_length, num_layers, num_heads, intermediate_dim, hidden_dim,
                   mixer="none", dropout=0.0, causal=True, dtype=None, **mixer_kwargs):
    """The layers of the block stack, each block with the mixer before it.

    A gap mixer sits after block `l` and before block `l + 1`; each gap gets
    its own layer named `mixer_<l + 1>`. Blocks are keras_hub's
    `TransformerDecoder` (`TransformerEncoder` with `causal=False`) with
    `normalize_first=True`, or the equivalent `DSPDecoderBlock` for a block
    mixer.

    Args:
        max_sequence_length: int. The longest input.
        num_layers: int. Number of blocks.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        intermediate_dim: int. Hidden width of each block's MLP.
        hidden_dim: int. E, the width of the stream.
        mixer: str. A registered mixer name or chain. Defaults to `"none"`.
        dropout: float. Dropout rate inside the blocks. Defaults to `0.0`.
        causal: bool. Causal attention (decoder) or not (encoder). Defaults
            to `True`.
        dtype: str, `keras.DTypePolicy` or `None`. The layers' dtype policy.
            Defaults to `None`.
        **mixer_kwargs: the mixer's arguments.

    Returns:
        tuple `(blocks, mixers)` of two lists of `num_layers` layers;
        `mixers[i]` goes before `blocks[i]` and is `None` where there is
        none (before the first block, and everywhere for a block mixer,
        which lives in the blocks' slots).
    """
    check_positive_ints(max_sequence_length=max_sequence_length, num_layers=num_layers,
                   num_heads=num_heads, intermediate_dim=intermediate_dim)
    if hidden_dim % num_heads:
        raise ValueError(f"`num_heads`={num_heads} must divide `hidden_dim`={hidden_dim}")
    check_number("dropout", dropout, 0.0, 1.0, high_open=True)
    in_blocks = mixer_placement(mixer) == "block"
    blocks, mixers = [], []
    for i in range(num_layers):
        if in_blocks:
            slots = get_mixer(mixer, max_sequence_length=max_sequence_length, dtype=dtype,
                              **mixer_kwargs)
            blocks.append(DSPDecoderBlock(num_heads, intermediate_dim, dropout=dropout,
                                          causal=causal, name=f"block_{i}", dtype=dtype, **slots))
            mixers.append(None)
            continue
        mixers.append(
            get_mixer(mixer, max_sequence_length=max_sequence_length, name=f"mixer_{i}",
                      dtype=dtype, **mixer_kwargs) if i > 0 else None
        )
        block_class = (keras_hub.layers.TransformerDecoder if causal
                       else keras_hub.layers.TransformerEncoder)
        blocks.append(block_class(
            intermediate_dim=intermediate_dim, num_heads=num_heads, dropout=dropout,
            activation="gelu", normalize_first=True, name=f"block_{i}", dtype=dtype,
        ))
    return blocks, mixers


def apply_blocks(x, blocks, mixers, padding_mask=None):
    """Runs a stream through each gap mixer and block in turn.

    Args:
        x: tensor of shape `(B, T, E)`.
        blocks: list of layers. From `decoder_blocks`.
        mixers: list of layers or `None`. From `decoder_blocks`.
        padding_mask: tensor of shape `(B, T)` or `None`. Hides padded keys
            from attention; the mixers are causal, so right padding never
            reaches an earlier position. Defaults to `None`.

    Returns:
        tensor of shape `(B, T, E)`.
    """
    for block, mixer in zip(blocks, mixers):
        if mixer is not None:
            x = mixer(x)  # (B, T, E)
        x = call_block(block, x, padding_mask)  # (B, T, E)
    return x


def call_block(block, x, padding_mask=None):
    """Calls one block, its padding mask under the name its class takes.

    keras_hub's decoder takes `decoder_padding_mask`, the others
    `padding_mask`.

    Args:
        block: `keras.layers.Layer`. A Transformer block.
        x: tensor of shape `(B, T, E)`.
        padding_mask: tensor of shape `(B, T)` or `None`. Defaults to `None`.

    Returns:
        tensor of shape `(B, T, E)`.
    """
    if padding_mask is None:
        return block(x)
    if isinstance(block, keras_hub.layers.TransformerDecoder):
        return block(x, decoder_padding_mask=padding_mask)
    return block(x, padding_mask=padding_mask)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class WaveletGPTBackbone(CheckedPreset, keras_hub.models.Backbone):
    """WaveletGPT's decoder: embeddings, blocks with a mixer in every gap.

        token_ids (B, T) -> token + learned position embedding      (B, T, E)
          -> block_0 -> mixer_1 -> block_1 -> ... -> block_{N-1}
          -> LayerNorm                                              (B, T, E)

    Each block is keras_hub's `TransformerDecoder` with `normalize_first=True`
    (causal self-attention and a GELU MLP, each behind a LayerNorm and a
    residual connection). A gap mixer (`"haar"`, `"learnable"`, `"canon"`,
    `"haar+canon"`, ...) replaces the residual stream between two blocks
    (WaveletGPT §3), so `N` blocks have `N - 1` mixers; a block mixer
    (`"multirate"`, `"canon_block"`) fills the slots of every block instead
    (`DSPDecoderBlock`). `mixer="none"` is a plain pre-LN GPT.

    Args:
        vocabulary_size: int. Number of token ids.
        num_layers: int. Number of decoder blocks.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        hidden_dim: int. Width `E` of the residual stream.
        intermediate_dim: int. Hidden width of each block's MLP.
        max_sequence_length: int. Longest input (rows of the position
            table); longer inputs raise a `ValueError`.
        dropout: float. Dropout inside the blocks. Defaults to `0.0`.
        mixer: str. A mixer name from `keras_wavegpt.layers.mixer_names()`
            or a composition such as `"haar+canon"`. Defaults to `"none"`.
        mixer_config: dict. The mixer's arguments (`{"fraction": 0.25}`,
            `{"canon.kernel_size": 3}`). Wavelet mixers default
            `max_kernel` to the largest power of two `<= max_sequence_length`.
            Defaults to `None`, the mixer's defaults.
        dtype: str or `keras.DTypePolicy`. The layers' dtype policy. Defaults
            to `None`, the global policy.

    Inputs: `{"token_ids": (B, T) int, "padding_mask": (B, T) int or bool}`.
    Output: the final hidden states `(B, T, hidden_dim)`.

    Example:

    >>> import numpy as np
    >>> backbone = WaveletGPTBackbone(
    ...     vocabulary_size=27, num_layers=2, num_heads=2, hidden_dim=16,
    ...     intermediate_dim=32, max_sequence_length=32, mixer="haar",
    ... )
    >>> out = backbone({"token_ids": np.ones((1, 12), "int32"),
    ...                 "padding_mask": np.ones((1, 12), "int32")})
    >>> tuple(out.shape)
    (1, 12, 16)

    References:
        Verma, "WaveletGPT: Wavelet Inspired Large Language Models", 2024,
        §3-4. https://arxiv.org/abs/2409.12924
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length,
        dropout=0.0,
        mixer="none",
        mixer_config=None,
        dtype=None,
        **kwargs,
    ):
        check_positive_ints(vocabulary_size=vocabulary_size, hidden_dim=hidden_dim,
                       max_sequence_length=max_sequence_length)
        if mixer_config is not None and not isinstance(mixer_config, dict):
            raise TypeError(f"`mixer_config` must be a dict or None, got {mixer_config!r}")
        mixer_config = dict(mixer_config or {})
        # === Layers ===
        self.token_embedding = GPTEmbedding(
            vocabulary_size, max_sequence_length, hidden_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
            dtype=dtype, name="embedding",
        )
        self.transformer_layers, self.mixer_layers = decoder_blocks(
            max_sequence_length, num_layers, num_heads, intermediate_dim, hidden_dim,
            mixer=mixer, dropout=dropout, dtype=dtype, **mixer_config,
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-5, dtype=dtype, name="final_norm"
        )

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = self.token_embedding(token_ids)  # (B, T, E)
        x = apply_blocks(x, self.transformer_layers, self.mixer_layers, padding_mask)
        sequence_output = self.layer_norm(x)  # (B, T, E)
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
            outputs=sequence_output,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.mixer = mixer
        self.mixer_config = mixer_config

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim,
            max_sequence_length=self.max_sequence_length,
            dropout=self.dropout,
            mixer=self.mixer,
            mixer_config=self.mixer_config,
        )
        return config
