"""8-bit mu-law audio levels as a keras_hub tokenizer."""

import keras
import numpy as np

from keras_wavegpt.data.audio import MU, mu_law_decode, mu_law_encode
from keras_wavegpt.tokenizers.fixed_vocabulary_tokenizer import FixedVocabularyTokenizer


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MuLawTokenizer(FixedVocabularyTokenizer):
    """Waveforms <-> the 256 mu-law levels of `raw_audio.py`.

    `tokenize` takes samples in [-1, 1] (one waveform, or a list of them)
    and returns level ids `0..255` (`data.audio.mu_law_encode`);
    `detokenize` turns ids back into float32 waveforms. The vocabulary is
    the levels' names (`"level_0"` ... `"level_255"`). Waveforms are not
    text, so this tokenizer runs in plain Python only, not inside `tf.data`;
    a preset carries it so that `generate(waveform)` returns a waveform.

    Args:
        **kwargs: standard layer arguments (`name`, `dtype`); `dtype`, the
            ids' dtype, defaults to `"int32"`.

    Example:

    >>> tokenizer = MuLawTokenizer()
    >>> ids = tokenizer(np.array([-1.0, 0.0, 0.5, 1.0]))
    >>> ids.tolist()
    [0, 128, 239, 255]
    >>> np.round(tokenizer.detokenize(ids), 2).tolist()
    [-1.0, 0.0, 0.5, 1.0]
    """

    def __init__(self, **kwargs):
        super().__init__([f"level_{i}" for i in range(MU + 1)],
                         pad_token_id=mu_law_encode(0.0).item(), **kwargs)  # pad: silence

    def tokenize(self, inputs):
        if isinstance(inputs, (list, tuple)) and inputs and np.ndim(inputs[0]) == 1:
            return [self.tokenize(np.asarray(x)) for x in inputs]
        samples = keras.ops.convert_to_numpy(inputs)
        if samples.ndim == 2:
            return np.stack([self.tokenize(row) for row in samples])
        if samples.ndim != 1 or not np.issubdtype(samples.dtype, np.floating):
            raise TypeError(f"MuLawTokenizer takes float waveforms, got {samples.dtype} "
                            f"of shape {samples.shape}")
        return mu_law_encode(samples).astype(self.compute_dtype)

    def detokenize(self, inputs):
        rows, batched = self.check_ids(inputs)
        waves = [mu_law_decode(np.asarray(row)).astype("float32") for row in rows]
        return waves if batched else waves[0]

