"""What binds a tokenizer to WaveletGPT's presets."""

from keras_wavegpt.models.wavelet_gpt_backbone import WaveletGPTBackbone


class WaveletGPTTokenizerBase:
    """Mixin of every tokenizer a WaveletGPT preset may carry.

    keras_hub's `Tokenizer.from_preset` looks for a tokenizer class whose
    `backbone_cls` is the preset's backbone class (as `GPT2Tokenizer` names
    `GPT2Backbone`); this mixin names `WaveletGPTBackbone` for all of ours,
    so that `keras_hub.tokenizers.Tokenizer.from_preset(path)` and each
    class's own `from_preset` load a saved preset. The classes themselves
    work beside any backbone.

    Args:
        *args: the tokenizer class's own arguments.
        **kwargs: the tokenizer class's own keyword arguments.
    """

    backbone_cls = WaveletGPTBackbone

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """keras_hub's `from_preset`, refusing a preset of another tokenizer.

        Args:
            preset: str. A preset folder or handle.
            **kwargs: passed to keras_hub's `Tokenizer.from_preset`.

        Raises:
            ValueError: the preset holds another tokenizer class.
        """
        tokenizer = super().from_preset(preset, **kwargs)
        if not isinstance(tokenizer, cls):
            name = type(tokenizer).__name__
            raise ValueError(
                f"Preset {preset} holds a {name}, not a {cls.__name__}; load it with "
                f"{name}.from_preset or keras_hub.tokenizers.Tokenizer.from_preset"
            )
        return tokenizer
