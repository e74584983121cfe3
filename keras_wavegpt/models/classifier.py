"""Sequence classifiers: the Long Range Arena model of WaveletGPT §5.

    tokens (B, T)
      -> the GPT's decoder stack (mixers in the gaps)      (B, T, E)
      -> last token                                        (B, E)
      -> Dense(head_hidden_dim, gelu) -> Dense(num_classes)       logits (B, C)

The decoder is causal, so the last token is the only one that has seen the
whole sequence; inputs shorter than the context are padded at the front
(`keras_wavegpt.data.lra` does) so the last token is always real.
"""

import keras

from keras_wavegpt.layers.registry import mixer_scope
from keras_wavegpt.models.gpt import decoder_stack
from keras_wavegpt.utils.validation import check_int


def build_sequence_classifier(
    vocabulary_size,
    max_sequence_length,
    num_classes,
    num_layers=6,
    hidden_dim=32,
    num_heads=4,
    intermediate_dim=128,
    head_hidden_dim=2048,
    mixer="none",
    dropout=0.0,
    name=None,
    **mixer_kwargs,
):
    """Build the LRA classifier of WaveletGPT §5 (`docs/design.md`, "LRA").

    Args:
        vocabulary_size: int. Token ids (16 for ListOps, 256 for bytes and
            pixels).
        max_sequence_length: int. Longest input (LRA: 1999 ListOps, 2048
            text, 3072 image); longer inputs raise a `ValueError`.
        num_classes: int. Output classes, at least 2 (10, 2, 10).
        num_layers: int. Causal decoder blocks (the paper's 6). Defaults to
            `6`.
        hidden_dim: int. Width (the paper's 32). Defaults to `32`.
        num_heads: int. Attention heads (not given in the paper). Defaults
            to `4`.
        intermediate_dim: int. MLP width (the paper's 4x the width).
            Defaults to `128`.
        head_hidden_dim: int. The dense layer before the class logits (the
            paper's 2048). Defaults to `2048`.
        mixer: str. A registered mixer; the paper's LRA setting is
            `mixer="haar", schedule="linear", max_kernel=512` (kernels
            growing linearly from 2 to 512 over the processed half of the
            channels). Defaults to `"none"`.
        dropout: float. Dropout inside the blocks. Defaults to `0.0`.
        name: str or `None`. Model name. Defaults to `None`,
            `"classifier_<mixer>"`.
        **mixer_kwargs: the mixer's arguments.

    Returns:
        A `keras.Model` from int tokens `(B, T)` to float32 class logits
        `(B, num_classes)`.

    Example:
        >>> model = build_sequence_classifier(16, 1999, 10, mixer="haar",
        ...                                   schedule="linear", max_kernel=512)
    """
    check_int("num_classes", num_classes, minimum=2)
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")  # (B, T)
    x = decoder_stack(
        tokens, vocabulary_size, max_sequence_length, num_layers, hidden_dim, num_heads,
        intermediate_dim, head_hidden_dim=head_hidden_dim, mixer=mixer, dropout=dropout,
        **mixer_kwargs,
    )  # (B, T, E)
    x = x[:, -1, :]  # (B, E): the only position that has seen every token
    x = keras.layers.Dense(head_hidden_dim, activation="gelu", name="head")(x)  # (B, 2048)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)  # (B, C)
    return keras.Model(tokens, logits, name=name or f"classifier_{mixer_scope(mixer)}")
