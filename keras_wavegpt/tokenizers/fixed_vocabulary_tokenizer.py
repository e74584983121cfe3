"""The base of the tokenizers whose vocabulary is fixed in code."""

import keras_hub

from keras_wavegpt.tokenizers.inputs import as_rows
from keras_wavegpt.tokenizers.wavelet_gpt_tokenizer_base import WaveletGPTTokenizerBase


class FixedVocabularyTokenizer(WaveletGPTTokenizerBase, keras_hub.tokenizers.Tokenizer):
    """A keras_hub tokenizer whose vocabulary is a fixed list of token
    names: nothing to save with a preset, no special tokens.

    Subclasses pass their vocabulary and implement `tokenize` and
    `detokenize`; `check_ids` names ids outside the vocabulary.

    Args:
        vocabulary: list of str. Token names, id `i` being `vocabulary[i]`.
        pad_token_id: int. The id that pads. Defaults to `0`.
        **kwargs: standard layer arguments; `dtype` defaults to `"int32"`.
    """

    def __init__(self, vocabulary, pad_token_id=0, **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self._vocabulary = list(vocabulary)
        self._ids = {token: i for i, token in enumerate(self._vocabulary)}
        self.pad_token_id = pad_token_id
        self.start_token_id = None
        self.end_token_id = None

    def vocabulary_size(self):
        return len(self._vocabulary)

    def get_vocabulary(self):
        return list(self._vocabulary)

    def id_to_token(self, id):
        if not 0 <= id < len(self._vocabulary):
            raise ValueError(f"`id` must be in [0, {len(self._vocabulary)}), got {id}")
        return self._vocabulary[id]

    def token_to_id(self, token):
        if token not in self._ids:
            raise ValueError(f"{token!r} is not a token of {type(self).__name__} (its tokens "
                             f"run {self._vocabulary[0]!r} ... {self._vocabulary[-1]!r})")
        return self._ids[token]

    def check_ids(self, inputs):
        """Reads ids in any shape `detokenize` takes, refusing unknown ids.

        Args:
            inputs: an int, a list, a list of lists, or an array or tensor
                of rank 0 to 2.

        Returns:
            tuple `(rows, batched)`, as `inputs.as_rows` gives.

        Raises:
            ValueError: an id lies outside the vocabulary.
        """
        rows, batched = as_rows(inputs)
        top = len(self._vocabulary) - 1
        for row in rows:
            if row and not 0 <= min(row) <= max(row) <= top:
                raise ValueError(f"{type(self).__name__} ids must lie in [0, {top}], got {row}")
        return rows, batched

    def save_assets(self, dir_path):
        """Nothing to save: the vocabulary is fixed.

        Args:
            dir_path: str. The preset's assets folder (unused).
        """

    def load_preset_assets(self, preset):
        """Nothing to load: the vocabulary is fixed.

        Args:
            preset: str. The preset (unused).
        """

    @property
    def special_token_ids(self):
        return []

    def call(self, inputs, *args, training=None, **kwargs):
        return self.tokenize(inputs)
