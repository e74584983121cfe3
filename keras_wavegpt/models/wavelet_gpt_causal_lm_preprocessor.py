"""Text to `{"token_ids", "padding_mask"}` and labels for a WaveletGPT LM."""

import keras
import keras_hub

from keras_wavegpt.models.wavelet_gpt_backbone import WaveletGPTBackbone
from keras_wavegpt.tokenizers.text8_tokenizer import Text8Tokenizer


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class WaveletGPTCausalLMPreprocessor(keras_hub.models.CausalLMPreprocessor):
    """keras_hub's `CausalLMPreprocessor` for WaveletGPT's tokenizers.

    Tokenizes, pads to `sequence_length` (right padding) and, for training,
    shifts by one token into `(x, y, sample_weight)`. Character-level models
    are trained without start or end tokens, so both default to off.

    Args:
        tokenizer: a keras_hub tokenizer, e.g. `Text8Tokenizer()`.
        sequence_length: int. Length of the packed sequences. Defaults to
            `128`.
        add_start_token: bool. Prepend the tokenizer's start token. Defaults
            to `False`.
        add_end_token: bool. Append its end token. Defaults to `False`.

    Example:

    >>> preprocessor = WaveletGPTCausalLMPreprocessor(Text8Tokenizer(), sequence_length=8)
    >>> x, y, w = preprocessor(["the cat"])
    >>> keras.ops.convert_to_numpy(x["token_ids"]).tolist(), keras.ops.convert_to_numpy(y).tolist()
    ([[20, 8, 5, 0, 3, 1, 20, 0]], [[8, 5, 0, 3, 1, 20, 0, 0]])
    """

    backbone_cls = WaveletGPTBackbone
    tokenizer_cls = Text8Tokenizer

    def __init__(self, tokenizer, sequence_length=128, add_start_token=False,
                 add_end_token=False, **kwargs):
        # keras_hub's packer reads these; a generic tokenizer (a plain
        # `BytePairTokenizer`) defines none of them: no special tokens, pad 0.
        for name in ("start_token_id", "end_token_id", "pad_token_id"):
            if tokenizer is not None and not hasattr(tokenizer, name):
                setattr(tokenizer, name, None)
        super().__init__(tokenizer, sequence_length=sequence_length,
                         add_start_token=add_start_token, add_end_token=add_end_token,
                         **kwargs)
