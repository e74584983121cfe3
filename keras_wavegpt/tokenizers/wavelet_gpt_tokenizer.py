"""WaveletGPT's byte-pair tokenizer."""

import keras
import keras_hub

from keras_wavegpt.tokenizers.wavelet_gpt_tokenizer_base import WaveletGPTTokenizerBase


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class WaveletGPTTokenizer(WaveletGPTTokenizerBase, keras_hub.tokenizers.BytePairTokenizer):
    """keras_hub's `BytePairTokenizer` (GPT-2's byte-level BPE), bound to
    `WaveletGPTBackbone` as `GPT2Tokenizer` is bound to `GPT2Backbone`.

    A preset that carries it loads through `WaveletGPTTokenizer.from_preset`,
    `keras_hub.tokenizers.BytePairTokenizer.from_preset` and
    `keras_hub.tokenizers.Tokenizer.from_preset`. It has no special tokens.

    Args:
        vocabulary: str, dict or `None`. The `vocab.json` path or its
            mapping. Defaults to `None` (set by a preset's assets).
        merges: str, list or `None`. The `merges.txt` path or its lines.
            Defaults to `None`.
        **kwargs: passed to keras_hub's `BytePairTokenizer`.

    Example:

    >>> tokenizer = WaveletGPTTokenizer(
    ...     vocabulary={"a": 0, "b": 1, "ab": 2, "Ġ": 3}, merges=["a b"])
    >>> keras.ops.convert_to_numpy(tokenizer("ab ab")).tolist()
    [2, 3, 2]
    """
