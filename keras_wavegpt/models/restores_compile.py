"""Loading a saved keras_hub task with its optimizer state."""

import keras


class RestoresCompile:
    """A mixin, before a keras_hub `Task` among the bases: a `.keras` file
    of the task loads compiled, its optimizer's state included, as a plain
    Keras model's does.

    Keras compiles a loaded model from its saved compile config only when
    the class keeps `Model.compile`; keras_hub's tasks override `compile`
    (for their defaults and the sampler), so without this a loaded
    checkpoint comes back with a fresh default optimizer and a warning.
    The sampler is not part of Keras' compile config: a loaded task has the
    default one until compiled again.

    Args:
        *args: the arguments of the class it is mixed into.
        **kwargs: the keyword arguments of the class it is mixed into.
    """

    def compile_from_config(self, config):
        """Compiles the task with a saved compile config, then builds the
        optimizer so that the file's optimizer variables load into it.

        Args:
            config: dict. What `get_compile_config()` saved.
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)
