"""The 27-symbol text8 alphabet as a keras_hub tokenizer."""

import re

import keras
import numpy as np

from keras_wavegpt.data.text import TEXT8_ALPHABET
from keras_wavegpt.tokenizers.fixed_vocabulary_tokenizer import FixedVocabularyTokenizer
from keras_wavegpt.tokenizers.inputs import as_strings

_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class Text8Tokenizer(FixedVocabularyTokenizer):
    """Characters of text8's alphabet: space is 0, `a..z` are 1..26.

    Text is normalised as text8 was made (Mahoney's `wikifil.pl` rules):
    lower-cased, each digit spelled out between spaces (`"1"` -> `" one "`),
    every other character outside `a..z` turned into a space, and runs of
    spaces collapsed to one. Leading and trailing spaces stay, so a prompt
    that ends in a space still asks for the next word. There are no special
    tokens: the space pads.

    Runs in plain Python on strings and lists of strings (eager use,
    `generate("text")`) and with TensorFlow ops inside `tf.data`.

    Args:
        **kwargs: standard layer arguments (`name`, `dtype`); `dtype`, the
            ids' dtype, defaults to `"int32"`.

    Example:

    >>> tokenizer = Text8Tokenizer()
    >>> tokenizer("Hi, 2 cats!").tolist()
    [8, 9, 0, 20, 23, 15, 0, 3, 1, 20, 19, 0]
    >>> tokenizer.detokenize([8, 9, 0, 20, 23, 15])
    'hi two'
    """

    def __init__(self, **kwargs):
        super().__init__(list(TEXT8_ALPHABET), pad_token_id=0, **kwargs)

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
        rows, batched = self.check_ids(inputs)
        texts = ["".join(TEXT8_ALPHABET[i] for i in row) for row in rows]
        return texts if batched else texts[0]

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
    """text8's normalisation, keeping leading and trailing spaces.

    Args:
        text: str.

    Returns:
        str of `a..z` and single spaces.
    """
    text = text.lower()
    for digit, word in enumerate(_DIGIT_WORDS):
        text = text.replace(str(digit), f" {word} ")
    return re.sub(r"[^a-z]+", " ", text)
