"""`from_preset` that names the damaged file of a damaged local preset."""

from keras_wavegpt.utils.files import raise_if_damaged


class CheckedPreset:
    """A mixin, before keras_hub's `Backbone` or `Task` among the bases:
    its `from_preset` is keras_hub's, and a local preset with a damaged
    file is a `ValueError` naming the file (keras_hub's own error is the
    reader's, e.g. h5py's "truncated file", with no name).

    Args:
        *args: the arguments of the class it is mixed into.
        **kwargs: the keyword arguments of the class it is mixed into.
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """keras_hub's `from_preset`; a damaged local preset is an error
        that names the damaged file.

        Args:
            preset: str. A preset folder or a keras_hub preset handle.
            load_weights: bool. Load the saved weights. Defaults to `True`.
            **kwargs: passed to keras_hub's `from_preset`.

        Raises:
            ValueError: a file of the local preset is damaged.
        """
        try:
            return super().from_preset(preset, load_weights=load_weights, **kwargs)
        except (OSError, ValueError) as error:
            raise_if_damaged(preset, error)
            raise
