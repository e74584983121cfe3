"""A Llama-style decoder from keras_hub with our mixers in its gaps."""

import keras_hub

from keras_wavegpt.layers.registry import mixer_scope
from keras_wavegpt.models.mixer_llama_backbone import MixerLlamaBackbone
from keras_wavegpt.models.mixer_llama_causal_lm import MixerLlamaCausalLM


def build_llama(vocabulary_size, max_sequence_length, num_layers, hidden_dim, num_heads,
                intermediate_dim, mixer="none", dropout=0.0, name=None, **mixer_kwargs):
    """keras_hub's Llama causal LM with `mixer` between its layers: the
    Llama-style peer of `build_gpt`, with the same dimensions.

    A `MixerLlamaCausalLM` over `add_mixers(LlamaBackbone(...), mixer)`. The
    output projection is untied from the input embedding
    (`tie_word_embeddings=False`) and has no bias.

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
        A `MixerLlamaCausalLM` (no preprocessor) from
        `{"token_ids": (B, T), "padding_mask": (B, T)}` to logits
        `(B, T, vocabulary_size)`.

    Example:

    >>> import numpy as np
    >>> from keras_wavegpt.models import gpt_preset
    >>> model = build_llama(27, mixer="haar", **gpt_preset("tiny"))
    >>> inputs = {"token_ids": np.zeros((2, 16), "int32"),
    ...           "padding_mask": np.ones((2, 16), "int32")}
    >>> tuple(model(inputs).shape)
    (2, 16, 27)
    """
    backbone = keras_hub.models.LlamaBackbone(
        vocabulary_size=vocabulary_size, num_layers=num_layers, num_query_heads=num_heads,
        num_key_value_heads=num_heads, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim,
        dropout=dropout, tie_word_embeddings=False,
    )
    backbone = MixerLlamaBackbone(backbone, mixer, mixer_config=mixer_kwargs,
                                  max_sequence_length=max_sequence_length)
    return MixerLlamaCausalLM(backbone, name=name or f"llama_{mixer_scope(mixer)}")
