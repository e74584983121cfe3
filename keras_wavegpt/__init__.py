"""keras_wavegpt: signal processing inside LLMs, for Keras 3 on any backend."""

from keras_wavegpt import layers, models, training
from keras_wavegpt.models.generation import generate
from keras_wavegpt.version import VERSION as __version__
