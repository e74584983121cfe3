"""A Llama-style decoder from keras_hub with our mixers in its gaps."""

import keras
import keras_hub

from keras_wavegpt.layers.registry import mixer_scope
from keras_wavegpt.models.mixer_backbone import MixerBackbone


def build_llama(vocabulary_size, max_sequence_length, num_layers, hidden_dim, num_heads,
                intermediate_dim, mixer="none", dropout=0.0, name=None, **mixer_kwargs):
    """A keras_hub `LlamaBackbone` with `mixer` between its layers
    (a `MixerBackbone`) and an untied, bias-free output projection, as one
    functional model from token ids to logits: the Llama-style peer of
    `build_gpt` for the experiment runner, with the same dimensions.

    The projection is a `Dense` layer of its own, not the backbone's
    reversible embedding: a layer shared between the backbone and the outer
    model would load from a `.keras` file as two layers.

    Args:
        vocabulary_size: int. Number of token ids.
        max_sequence_length: int. The context the mixers' defaults follow
            (the Haar mixer's `max_kernel`); positions are rotary, so the
            model itself has no limit.
        num_layers: int. Transformer layers.
        hidden_dim: int. Width of the residual stream.
        num_heads: int. Query heads, and as many key/value heads.
        intermediate_dim: int. Hidden width of each layer's gated MLP.
        mixer: str. A gap mixer or chain. Defaults to `"none"`.
        dropout: float. Dropout inside the layers. Defaults to `0.0`.
        name: str or `None`. Defaults to `None`, `"llama_<mixer>"`.
        **mixer_kwargs: the mixer's arguments.

    Returns:
        A `keras.Model` from int tokens `(B, T)` to float32 logits
        `(B, T, vocabulary_size)`.

    Example:

    >>> from keras_wavegpt.models import gpt_preset
    >>> model = build_llama(27, mixer="haar", **gpt_preset("tiny"))
    >>> tuple(model(keras.ops.zeros((2, 16), "int32")).shape)
    (2, 16, 27)
    """
    backbone = keras_hub.models.LlamaBackbone(
        vocabulary_size=vocabulary_size, num_layers=num_layers, num_query_heads=num_heads,
        num_key_value_heads=num_heads, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim,
        dropout=dropout, tie_word_embeddings=True,  # the input table only; the head is below
    )
    backbone = MixerBackbone(backbone, mixer, mixer_config=mixer_kwargs,
                             max_sequence_length=max_sequence_length, name="backbone")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")  # (B, T)
    padding_mask = keras.ops.ones_like(tokens)  # (B, T)
    x = backbone({"token_ids": tokens, "padding_mask": padding_mask})  # (B, T, E)
    logits = keras.layers.Dense(vocabulary_size, use_bias=False, dtype="float32",
                                name="logits")(x)  # (B, T, V)
    return keras.Model(tokens, logits, name=name or f"llama_{mixer_scope(mixer)}")
