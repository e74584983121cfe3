"""keras_wavegpt: signal processing inside LLMs, for Keras 3 on any backend."""

from keras_wavegpt.utils.quiet import quiet_start

quiet_start()  # before keras and keras_hub import TensorFlow

from keras_wavegpt import layers, models, training  # noqa: E402
from keras_wavegpt.version import VERSION as __version__  # noqa: E402
