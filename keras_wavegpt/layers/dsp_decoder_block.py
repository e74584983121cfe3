"""A pre-LayerNorm decoder block with five optional DSP slots."""

import keras
from keras import ops

from keras_wavegpt.utils.validation import check_float_input, check_int, check_stream


SLOTS = ("pre_attention", "post_attention", "post_mlp", "attention_input",
         "feedforward_input")


def _slot(layer):
    if layer is None or isinstance(layer, keras.layers.Layer):
        return layer
    return keras.saving.deserialize_keras_object(layer)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class DSPDecoderBlock(keras.layers.Layer):
    """Causal self-attention and MLP blocks with DSP layers in between.

        x = pre_attention(x)
        x = x + Dropout(MHA(attention_input(LN(x))))   # causal unless causal=False
        x = post_attention(x)
        x = x + Dropout(W2 gelu(W1 feedforward_input(LN(x))))
        x = post_mlp(x)

    Each slot is any `(B, T, D) -> (B, T, D)` layer or `None`. With all five
    `None` this is the same function, with the same weights in the same order,
    as keras_hub's `TransformerDecoder(normalize_first=True)` without cross
    attention, the block of `build_gpt`'s other variants.

    Args:
        num_heads: int. Attention heads; must divide the width.
        intermediate_dim: int. Hidden width of the MLP.
        dropout: float. Dropout rate after attention and after the MLP (and
            on the attention weights). Defaults to `0.0`.
        activation: str or callable. The MLP's activation. Defaults to
            `"gelu"`.
        layer_norm_epsilon: float. Epsilon of both LayerNorms. Defaults to
            `1e-5`.
        causal: bool. Mask attention to earlier positions; `False` makes
            this an encoder block (keras_hub's `TransformerEncoder`
            equivalent). Defaults to `True`.
        pre_attention: layer or `None`. Before the attention sublayer, on
            the residual stream (the multirate decomposition). Defaults to
            `None`.
        post_attention: layer or `None`. After the attention's residual add
            (LFO routing). Defaults to `None`.
        post_mlp: layer or `None`. After the MLP's residual add (the channel
            bottleneck). Defaults to `None`.
        attention_input: layer or `None`. After the attention's LayerNorm,
            on the attention's input only (Canon-A). Defaults to `None`.
        feedforward_input: layer or `None`. After the MLP's LayerNorm, on
            the MLP's input only (Canon-C). Defaults to `None`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, D)` -> `(B, T, D)`.

    Example:

    >>> from keras_wavegpt.layers import LFORouting
    >>> block = DSPDecoderBlock(4, 64, post_attention=LFORouting(num_routes=4))
    >>> tuple(block(keras.random.normal((2, 16, 32))).shape)
    (2, 16, 32)

    References:
        adaptive-multirate-transformers README, "Overall Architecture".
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        causal=True,
        pre_attention=None,
        post_attention=None,
        post_mlp=None,
        attention_input=None,
        feedforward_input=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_int("num_heads", num_heads)
        check_int("intermediate_dim", intermediate_dim)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = float(dropout)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.causal = bool(causal)
        self.pre_attention = _slot(pre_attention)
        self.post_attention = _slot(post_attention)
        self.post_mlp = _slot(post_mlp)
        self.attention_input = _slot(attention_input)
        self.feedforward_input = _slot(feedforward_input)

    def build(self, input_shape):
        check_stream(self, input_shape)
        hidden = input_shape[-1]
        if hidden is None or hidden % self.num_heads:
            raise ValueError(
                f"`num_heads`={self.num_heads} must divide the width, got shape "
                f"{tuple(input_shape)}"
            )
        # Created in keras_hub TransformerDecoder's order, so weights line up.
        self.self_attention = keras.layers.MultiHeadAttention(
            self.num_heads, hidden // self.num_heads, dropout=self.dropout,
            name="self_attention", dtype=self.dtype_policy,
        )
        self.self_attention.build(input_shape, input_shape)
        self.self_attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="self_attention_layer_norm",
            dtype=self.dtype_policy,
        )
        self.self_attention_layer_norm.build(input_shape)
        self.self_attention_dropout = keras.layers.Dropout(
            self.dropout, name="self_attention_dropout", dtype=self.dtype_policy
        )
        self.feedforward_intermediate_dense = keras.layers.Dense(
            self.intermediate_dim, activation=self.activation,
            name="feedforward_intermediate_dense", dtype=self.dtype_policy,
        )
        self.feedforward_intermediate_dense.build(input_shape)
        self.feedforward_output_dense = keras.layers.Dense(
            hidden, name="feedforward_output_dense", dtype=self.dtype_policy
        )
        self.feedforward_output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.feedforward_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="feedforward_layer_norm",
            dtype=self.dtype_policy,
        )
        self.feedforward_layer_norm.build(input_shape)
        self.feedforward_dropout = keras.layers.Dropout(
            self.dropout, name="feedforward_dropout", dtype=self.dtype_policy
        )
        for slot in SLOTS:
            slot = getattr(self, slot)
            if slot is not None and not slot.built:
                slot.build(input_shape)

    def call(self, inputs, padding_mask=None, training=None):
        """`padding_mask` `(B, T)`, optional: keys where it is 0 or False are
        hidden from attention."""
        check_float_input(self, inputs)
        mask = None if padding_mask is None else ops.cast(padding_mask, "bool")[:, None, :]
        x = inputs  # (B, T, D)
        if self.pre_attention is not None:
            x = self.pre_attention(x)
        h = self.self_attention_layer_norm(x)
        if self.attention_input is not None:
            h = self.attention_input(h)
        h = self.self_attention(h, h, attention_mask=mask, use_causal_mask=self.causal,
                                training=training)
        x = x + self.self_attention_dropout(h, training=training)
        if self.post_attention is not None:
            x = self.post_attention(x)
        h = self.feedforward_layer_norm(x)
        if self.feedforward_input is not None:
            h = self.feedforward_input(h)
        h = self.feedforward_output_dense(self.feedforward_intermediate_dense(h))
        x = x + self.feedforward_dropout(h, training=training)
        if self.post_mlp is not None:
            x = self.post_mlp(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            activation=keras.activations.serialize(self.activation),
            layer_norm_epsilon=self.layer_norm_epsilon,
            causal=self.causal,
        )
        for slot in SLOTS:
            layer = getattr(self, slot)
            config[slot] = None if layer is None else keras.saving.serialize_keras_object(layer)
        return config
