"""One token at a time through any causal layer, exactly: the cached calls
that generation uses for mixers and block slots without a streaming state."""

from keras import ops

from keras_wavegpt.layers.mixer_chain import receptive_field


def initial_cache(layer, batch, length, hidden_dim, dtype):
    """The layer's own streaming state where it has one (`streaming`: the
    fixed Haar layer's running sums), else room for its past inputs
    `(B, length, E)`."""
    if getattr(layer, "streaming", False):
        return layer.initial_cache(batch, length)
    return ops.zeros((batch, length, hidden_dim), dtype=dtype)


def call_with_cache(layer, x, cache, index):
    """A causal layer's output for `x` `(B, L, E)` placed at `index`, and its
    updated cache (`initial_cache`).

    A whole sequence (the prompt pass, `L` = the cache's length) runs as is.
    One token runs the layer over the last `receptive_field` cached inputs
    ending at `index` (from the start while `index` is smaller, and over the
    whole cache for a layer whose reach is unbounded or depends on the
    position), which reads exactly what the full pass reads at that
    position: the layer is causal, and inputs before the window are beyond
    its reach.
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
