"""The 27-symbol text8 alphabet as a keras_hub tokenizer."""

import re

import keras
import keras_hub
import numpy as np

from keras_wavegpt.data.text import TEXT8_ALPHABET
from keras_wavegpt.tokenizers.inputs import as_rows, as_strings

_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class Text8Tokenizer(keras_hub.tokenizers.Tokenizer):
    """Characters of text8's alphabet: space is 0, `a..z` are 1..26.

    Text is normalised as text8 was made (Mahoney's `wikifil.pl` rules):
    lower-cased, each digit spelled out between spaces (`"1"` -> `" one "`),
    every other character outside `a..z` turned into a space, and runs of
    spaces collapsed to one. Leading and trailing spaces stay, so a prompt
    that ends in a space still asks for the next word. There are no special
    tokens: the space pads.

    Runs in plain Python on strings and lists of strings (eager use,
    `generate("text")`) and with TensorFlow ops inside `tf.data`.

    Example:

    >>> tokenizer = Text8Tokenizer()
    >>> tokenizer("Hi, 2 cats!").tolist()
    [8, 9, 0, 20, 23, 15, 0, 3, 1, 20, 19, 0]
    >>> tokenizer.detokenize([8, 9, 0, 20, 23, 15])
    'hi two'
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self.pad_token_id = 0
        self.start_token_id = None
        self.end_token_id = None

    def vocabulary_size(self):
        return len(TEXT8_ALPHABET)

    def get_vocabulary(self):
        return list(TEXT8_ALPHABET)

    def id_to_token(self, id):
        if not 0 <= id < len(TEXT8_ALPHABET):
            raise ValueError(f"`id` must be in [0, {len(TEXT8_ALPHABET)}), got {id}")
        return TEXT8_ALPHABET[id]

    def token_to_id(self, token):
        if token not in TEXT8_ALPHABET or len(token) != 1:
            raise ValueError(f"{token!r} is not in the text8 alphabet {TEXT8_ALPHABET!r}")
        return TEXT8_ALPHABET.index(token)

    def save_assets(self, dir_path):
        """Nothing to save: the alphabet is fixed."""

    def load_preset_assets(self, preset):
        """Nothing to load: the alphabet is fixed."""

    @property
    def special_token_ids(self):
        return []

    def tokenize(self, inputs):
        if self._use_tf_workflow():
            return self._tokenize_tf(inputs)
        texts, batched = as_strings(inputs, type(self).__name__)
        ids = [np.frombuffer(normalize(t).encode("ascii"), np.uint8) for t in texts]
        ids = [np.where(i == 32, 0, i.astype(np.int64) - 96).astype(self.compute_dtype)
               for i in ids]
        return ids if batched else ids[0]

    def detokenize(self, inputs):
        if self._use_tf_workflow():
            return self._detokenize_tf(inputs)
        rows, batched = as_rows(inputs)
        for row in rows:
            if row and not 0 <= min(row) <= max(row) < len(TEXT8_ALPHABET):
                raise ValueError(f"text8 token ids must lie in [0, 26], got {row}")
        texts = ["".join(TEXT8_ALPHABET[i] for i in row) for row in rows]
        return texts if batched else texts[0]

    def call(self, inputs, *args, training=None, **kwargs):
        return self.tokenize(inputs)

    def _tokenize_tf(self, inputs):
        import tensorflow as tf

        text = tf.strings.lower(inputs)
        for digit, word in enumerate(_DIGIT_WORDS):
            text = tf.strings.regex_replace(text, str(digit), f" {word} ")
        text = tf.strings.regex_replace(text, "[^a-z]+", " ")
        codes = tf.strings.unicode_decode(text, "UTF-8")
        return tf.cast(tf.where(codes == 32, 0, codes - 96), self.compute_dtype)

    def _detokenize_tf(self, inputs):
        import tensorflow as tf

        table = tf.constant(list(TEXT8_ALPHABET))
        return tf.strings.reduce_join(tf.gather(table, inputs), axis=-1)


def normalize(text):
    """text8's normalisation, keeping leading and trailing spaces."""
    text = text.lower()
    for digit, word in enumerate(_DIGIT_WORDS):
        text = text.replace(str(digit), f" {word} ")
    return re.sub(r"[^a-z]+", " ", text)
