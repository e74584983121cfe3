"""Models built with the Keras functional API."""

from keras_wavegpt.models.classifier import build_sequence_classifier
from keras_wavegpt.models.gpt import PRESETS, build_gpt, decoder_stack, gpt_preset
from keras_wavegpt.models.generation import SAMPLERS, generate
