"""Mixers applied one after another, as one layer."""

import keras

from keras_wavegpt.utils.validation import check_stream


def receptive_field(layer):
    """How many steps back a mixer reads (see `CausalWavelet.receptive_field`).

    Args:
        layer: `keras.layers.Layer`. A causal mixer.

    Returns:
        int, the steps including the present: 1 for an identity; `None` (the
        whole past) for a layer that does not say.
    """
    if isinstance(layer, keras.layers.Identity):
        return 1
    return getattr(layer, "receptive_field", None)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerChain(keras.layers.Layer):
    """Residual-stream mixers composed in order: `y = m_k(...m_2(m_1(x)))`.

    The registry builds one for a name such as `"haar+canon"` (see
    `get_mixer`); it shows as one layer in a model summary and serializes
    with its parts. Causal when every part is.

    Args:
        mixers: list of layers. `(B, T, E) -> (B, T, E)` layers (or their
            serialized configs), applied first to last; at least one.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, E)` -> `(B, T, E)`.

    Example:

    >>> from keras_wavegpt.layers import CanonLayer, CausalWavelet
    >>> chain = MixerChain([CausalWavelet(max_kernel=8), CanonLayer()])
    >>> tuple(chain(keras.ops.ones((2, 16, 8))).shape)
    (2, 16, 8)
    """

    def __init__(self, mixers, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(mixers, (list, tuple)) or not mixers:
            raise ValueError(f"`mixers` must be a non-empty list of layers, got {mixers!r}")
        self.mixers = [
            m if isinstance(m, keras.layers.Layer) else keras.saving.deserialize_keras_object(m)
            for m in mixers
        ]

    def build(self, input_shape):
        check_stream(self, input_shape)
        for mixer in self.mixers:
            if not mixer.built:
                mixer.build(input_shape)

    def call(self, inputs):
        x = inputs  # (B, T, E)
        for mixer in self.mixers:
            x = mixer(x)
        return x

    @property
    def receptive_field(self):
        """How many steps, the current one included, an output reads:
        the parts' fields chained, `sum(r - 1) + 1`; `None` if a part reads
        the whole past. Cached generation keeps that many past inputs."""
        fields = [receptive_field(m) for m in self.mixers]
        if None in fields:
            return None
        return sum(f - 1 for f in fields) + 1

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(mixers=[keras.saving.serialize_keras_object(m) for m in self.mixers])
        return config
