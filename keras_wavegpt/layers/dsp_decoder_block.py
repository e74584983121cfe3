"""A pre-LayerNorm decoder block with five optional DSP slots."""

import keras
import keras_hub
from keras import ops

from keras_wavegpt.layers.cached_call import call_with_cache, initial_cache
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
        # Created in keras_hub TransformerDecoder's order, so weights line up;
        # its attention class, so generation can keep a key/value cache.
        self.self_attention = keras_hub.layers.CachedMultiHeadAttention(
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
        x = self._slot("pre_attention", inputs)  # (B, T, D)
        h = self._slot("attention_input", self.self_attention_layer_norm(x))
        length = ops.shape(h)[1]
        mask = self._attention_mask(length, length, 0, padding_mask)
        h = self.self_attention(h, h, attention_mask=mask, training=training)
        return self._rest(x, h, self._slot, training=training)

    def initial_cache(self, batch, length, hidden_dim, dtype):
        """The slots' caches for `call_with_cache`, one per slot in use.

        Args:
            batch: int. The batch size.
            length: int. The longest sequence.
            hidden_dim: int. D, the stream's width.
            dtype: str. The caches' dtype.

        Returns:
            dict mapping each slot's name to its cache.
        """
        return {slot: initial_cache(getattr(self, slot), batch, length, hidden_dim, dtype)
                for slot in SLOTS if getattr(self, slot) is not None}

    def call_with_cache(self, inputs, self_attention_cache, self_attention_cache_update_index,
                        slot_caches):
        """The block's output for `inputs` placed at the cache index.

        The same values as `call` on the whole sequence gives at those
        positions.

        Args:
            inputs: tensor of shape `(B, L, D)`.
            self_attention_cache: keras_hub's key/value cache of shape
                `(B, 2, S, heads, head_dim)`.
            self_attention_cache_update_index: int or scalar tensor. The
                position of the first step.
            slot_caches: dict. From `initial_cache` or the previous call.

        Returns:
            `(outputs, self_attention_cache, slot_caches)`.
        """
        index = self_attention_cache_update_index
        caches = dict(slot_caches)

        def slot(name, x):
            layer = getattr(self, name)
            if layer is None:
                return x
            y, caches[name] = call_with_cache(layer, x, caches[name], index)
            return y

        x = slot("pre_attention", inputs)  # (B, L, D)
        h = slot("attention_input", self.self_attention_layer_norm(x))
        mask = self._attention_mask(ops.shape(h)[1], ops.shape(self_attention_cache)[2], index)
        h, self_attention_cache = self.self_attention(
            h, h, attention_mask=mask, cache=self_attention_cache, cache_update_index=index
        )
        x = self._rest(x, h, slot)
        return x, self_attention_cache, caches

    def _slot(self, name, x):
        layer = getattr(self, name)
        return x if layer is None else layer(x)

    def _rest(self, x, h, slot, training=None):
        """The block after attention: `x` the residual stream, `h` the
        attention's output, `slot(name, x)` running a slot."""
        x = x + self.self_attention_dropout(h, training=training)
        x = slot("post_attention", x)
        h = slot("feedforward_input", self.feedforward_layer_norm(x))
        h = self.feedforward_output_dense(self.feedforward_intermediate_dense(h))
        x = x + self.feedforward_dropout(h, training=training)
        return slot("post_mlp", x)

    def _attention_mask(self, query_length, key_length, start, padding_mask=None):
        """`(B or 1, L, S)` bool: query `i` (at position `start + i`) sees key
        `j` if `j` is not after it (when causal) and not padding."""
        mask = None
        if self.causal:
            queries = ops.arange(query_length)[:, None] + ops.cast(start, "int32")
            mask = (ops.arange(key_length)[None, :] <= queries)[None]  # (1, L, S)
        if padding_mask is not None:
            keys = ops.cast(padding_mask, "bool")[:, None, :]  # (B, 1, S)
            mask = keys if mask is None else ops.logical_and(mask, keys)
        return mask

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
