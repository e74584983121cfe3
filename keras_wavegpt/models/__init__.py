"""Models built with the Keras functional API."""

from keras_wavegpt.models.gpt import PRESETS, build_gpt, gpt_preset
from keras_wavegpt.models.generation import SAMPLERS, generate
