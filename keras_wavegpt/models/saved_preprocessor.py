"""keras_hub's preprocessor loaders, for a mixer family's preprocessor class."""

from keras_hub.src.utils.preset_utils import (
    PREPROCESSOR_CONFIG_FILE,
    check_config_class,
    check_file_exists,
    load_json,
)


class SavedPreprocessor:
    """A mixin, before the family's keras_hub causal LM preprocessor among
    the bases, for the preprocessor class bound to a mixer backbone.

    A mixer preset usually holds the family's own keras_hub preprocessor
    (`GPT2CausalLMPreprocessor`), which keras_hub's
    `CausalLMPreprocessor.from_preset` cannot pick by the preset's backbone
    class; it picks this class instead, and builds it from the saved
    preprocessor's settings (sequence length, start and end tokens) rather
    than the class defaults.

    Args:
        *args: the arguments of the class it is mixed into.
        **kwargs: the keyword arguments of the class it is mixed into.
    """

    @classmethod
    def _add_missing_kwargs(cls, loader, kwargs):
        if check_file_exists(loader.preset, PREPROCESSOR_CONFIG_FILE):
            saved = load_json(loader.preset, PREPROCESSOR_CONFIG_FILE)
            if issubclass(cls, check_config_class(saved)):
                settings = {k: v for k, v in saved["config"].items()
                            if k not in ("tokenizer", "dtype", "name", "trainable")}
                kwargs = {**settings, **kwargs}
        return super()._add_missing_kwargs(loader, kwargs)
