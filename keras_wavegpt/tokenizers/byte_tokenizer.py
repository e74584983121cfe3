"""Bytes as tokens (enwik8, any text as UTF-8) as a keras_hub tokenizer."""

import keras
import numpy as np

from keras_wavegpt.tokenizers.fixed_vocabulary_tokenizer import FixedVocabularyTokenizer
from keras_wavegpt.tokenizers.inputs import as_strings

VOCABULARY_SIZE = 256


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class ByteTokenizer(FixedVocabularyTokenizer):
    """Every byte is a token: ids `0..255`, the vocabulary of enwik8.

    Text is encoded as UTF-8 (`bytes` pass through as they are); ids are
    decoded as UTF-8 with every invalid sequence replaced by U+FFFD, so a
    continuation that stops inside a multi-byte character, or a model that
    emits a stray byte, still decodes. There are no special tokens: byte 0
    pads.

    Runs in plain Python on strings and lists of strings (eager use,
    `generate("text")`) and with TensorFlow ops inside `tf.data`.

    Args:
        **kwargs: standard layer arguments (`name`, `dtype`); `dtype`, the
            ids' dtype, defaults to `"int32"`.

    Example:

    >>> tokenizer = ByteTokenizer()
    >>> tokenizer("née").tolist()
    [110, 195, 169, 101]
    >>> tokenizer.detokenize([110, 195, 169, 101, 195])
    'née\ufffd'
    """

    def __init__(self, **kwargs):
        # Token names: each byte as the latin-1 character of its value.
        super().__init__([chr(i) for i in range(VOCABULARY_SIZE)], pad_token_id=0, **kwargs)

    def tokenize(self, inputs):
        if self._use_tf_workflow():
            return self._tokenize_tf(inputs)
        texts, batched = as_strings(inputs, type(self).__name__, keep_bytes=True)
        ids = [np.frombuffer(t if isinstance(t, bytes) else t.encode("utf-8"), np.uint8)
               .astype(self.compute_dtype) for t in texts]
        return ids if batched else ids[0]

    def detokenize(self, inputs):
        if self._use_tf_workflow():
            return self._detokenize_tf(inputs)
        rows, batched = self.check_ids(inputs)
        texts = [bytes(row).decode("utf-8", errors="replace") for row in rows]
        return texts if batched else texts[0]

    def _tokenize_tf(self, inputs):
        import tensorflow as tf

        # `unicode_decode` would read characters; the byte values come from
        # splitting into one-byte strings and reading each as a uint8.
        pieces = tf.strings.bytes_split(inputs)
        ragged = isinstance(pieces, tf.RaggedTensor)
        flat = pieces.flat_values if ragged else pieces
        values = tf.cast(tf.reshape(tf.io.decode_raw(flat, tf.uint8), [-1]), self.compute_dtype)
        return pieces.with_flat_values(values) if ragged else values

    def _detokenize_tf(self, inputs):
        import tensorflow as tf

        table = tf.constant([bytes([i]) for i in range(VOCABULARY_SIZE)])
        raw = tf.strings.reduce_join(tf.gather(table, inputs), axis=-1)
        return tf.strings.unicode_transcode(raw, "UTF-8", "UTF-8", errors="replace")
