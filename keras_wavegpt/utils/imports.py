"""Optional dependencies, imported where they are needed."""


def tensorflow():
    """The `tensorflow` module, or an `ImportError` that says what needs it.

    The layers, models and generation run on JAX and PyTorch without
    TensorFlow; the `tf.data` pipelines and the experiment runner need it.
    """
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            "keras_wavegpt's tf.data pipelines and experiment runner need TensorFlow, "
            "which is not installed here: `pip install tensorflow` (it comes with "
            "`pip install keras_wavegpt`). The layers, models and generation run "
            f"without it on JAX and PyTorch. ({error})"
        ) from error
    return tf
