"""One token at a time through any causal layer, exactly: the cached calls
that generation uses for mixers and block slots without a streaming state."""

from keras import ops

from keras_wavegpt.layers.mixer_chain import receptive_field


def initial_cache(layer, batch, length, hidden_dim, dtype):
    """The cache that `call_with_cache` starts from for one layer.

    A layer with its own streaming state (`streaming`: the fixed Haar
    layer's window inputs, the EMA's last values) makes it; any other layer
    gets room for its past inputs.

    Args:
        layer: `keras.layers.Layer`. A causal `(B, T, E) -> (B, T, E)` layer.
        batch: int. The batch size.
        length: int. The longest sequence the cache holds.
        hidden_dim: int. E, the stream's width.
        dtype: str. The cache's dtype.

    Returns:
        The layer's state, or zeros of shape `(batch, length, hidden_dim)`.
    """
    if getattr(layer, "streaming", False):
        return layer.initial_cache(batch, length)
    return ops.zeros((batch, length, hidden_dim), dtype=dtype)


def call_with_cache(layer, x, cache, index):
    """A causal layer's output for `x` placed at `index`, and its new cache.

    A whole sequence (the prompt pass, `L` = the cache's length) runs as is.
    One token runs the layer over the last `receptive_field` cached inputs
    ending at `index` (from the start while `index` is smaller, and over the
    whole cache for a layer whose reach is unbounded or depends on the
    position), which reads exactly what the full pass reads at that
    position: the layer is causal, and inputs before the window are beyond
    its reach.

    Args:
        layer: `keras.layers.Layer`. A causal `(B, T, E) -> (B, T, E)` layer.
        x: tensor of shape `(B, L, E)`. One token (`L = 1`) or the whole
            sequence.
        cache: the cache from `initial_cache` or from the previous call.
        index: int or scalar tensor. The position of `x`'s first step.

    Returns:
        tuple `(y, cache)`: `y` of shape `(B, L, E)` and the updated cache.
    """
    if getattr(layer, "streaming", False):
        return layer.call_with_cache(x, cache, index)
    index = ops.convert_to_tensor(index, "int32")
    cache = ops.slice_update(cache, [0, index, 0], ops.cast(x, cache.dtype))
    if x.shape[1] != 1:
        return layer(x), cache
    total = cache.shape[1]
    field = receptive_field(layer)
    width = total if field is None or total is None else min(field, total)
    if width is None:
        window, start = cache, 0
    else:
        start = ops.clip(index - width + 1, 0, total - width)
        batch = ops.shape(cache)[0]
        window = ops.slice(cache, [0, start, 0], [batch, width, cache.shape[2]])
    y = layer(window)  # (B, width, E)
    return ops.take(y, ops.expand_dims(index - start, 0), axis=1), cache
