"""Token + learned position embedding that refuses what it cannot embed."""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class GPTEmbedding(keras_hub.layers.TokenAndPositionEmbedding):
    """keras_hub's `TokenAndPositionEmbedding` with input checks.

    The position table has `sequence_length` rows; a longer input would be
    silently mis-embedded (or fail deep inside a backend), so this layer
    raises a clear error first: inputs must be integer token ids of shape
    `(batch, time)` with `time <= sequence_length`.

    Args:
        vocabulary_size: int. Number of token ids.
        sequence_length: int. The longest input (rows of the position
            table); a longer one raises a `ValueError`.
        embedding_dim: int. Model width `E`.
        **kwargs: passed to `keras_hub.layers.TokenAndPositionEmbedding`
            (`embeddings_initializer`, `name`, `dtype`, ...).

    Shapes: `(B, T)` int -> `(B, T, E)`.

    Example:

    >>> tuple(GPTEmbedding(27, 64, 32)(keras.ops.zeros((2, 10), "int32")).shape)
    (2, 10, 32)
    """

    def build(self, input_shape):
        self._check_shape(input_shape)
        super().build(input_shape)

    def call(self, inputs, start_index=0, positions=None):
        self._check_shape(inputs.shape)
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if "int" not in dtype:
            raise TypeError(f"{self.name} expects integer token ids, got dtype {dtype}")
        return super().call(inputs, start_index=start_index, positions=positions)

    def _check_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(
                f"{self.name} expects token ids of shape (batch, time), got shape "
                f"{tuple(shape)}"
            )
        length = shape[1]
        if length is not None and length > self.sequence_length:
            raise ValueError(
                f"Sequence length {length} exceeds the model's max_sequence_length "
                f"{self.sequence_length}; crop inputs to at most "
                f"{self.sequence_length} tokens."
            )
