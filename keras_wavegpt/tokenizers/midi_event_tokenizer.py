"""The 388 MIDI performance events as a keras_hub tokenizer."""

import keras
import numpy as np

from keras_wavegpt.data import midi
from keras_wavegpt.tokenizers.fixed_vocabulary_tokenizer import FixedVocabularyTokenizer


def _event_names():
    names = [f"NOTE_ON_{p}" for p in range(midi.NUM_PITCHES)]
    names += [f"NOTE_OFF_{p}" for p in range(midi.NUM_PITCHES)]
    names += [f"TIME_SHIFT_{k}" for k in range(1, midi.MAX_SHIFT_STEPS + 1)]
    names += [f"SET_VELOCITY_{b}" for b in range(midi.VOCAB_SIZE - midi.SET_VELOCITY)]
    return names


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MidiEventTokenizer(FixedVocabularyTokenizer):
    """Notes <-> the 388 performance events of `keras_wavegpt.data.midi`.

    `tokenize` takes a list of `Note` (pitch, velocity, start and end in
    seconds), or a list of such lists, and returns event ids (`NOTE_ON`,
    `NOTE_OFF`, `TIME_SHIFT` in 10 ms steps, `SET_VELOCITY` in 32 bins);
    `detokenize` turns ids back into notes, leniently for sampled sequences
    (`events_to_notes`). The vocabulary is the events' names
    (`"NOTE_ON_60"`, `"TIME_SHIFT_10"`, ...). Notes are not text, so this
    tokenizer runs in plain Python only, not inside `tf.data`; a preset
    carries it so that a model's vocabulary stays named.

    Args:
        **kwargs: standard layer arguments (`name`, `dtype`); `dtype`, the
            ids' dtype, defaults to `"int32"`.

    Example:

    >>> from keras_wavegpt.data.midi import Note
    >>> tokenizer = MidiEventTokenizer()
    >>> ids = tokenizer([Note(60, 100, 0.0, 0.5)])
    >>> [tokenizer.id_to_token(i) for i in ids.tolist()]
    ['SET_VELOCITY_25', 'NOTE_ON_60', 'TIME_SHIFT_50', 'NOTE_OFF_60']
    >>> tokenizer.detokenize(ids)
    [Note(pitch=60, velocity=102, start=0.0, end=0.5)]
    """

    def __init__(self, **kwargs):
        super().__init__(_event_names(), pad_token_id=0, **kwargs)

    def tokenize(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f"MidiEventTokenizer takes a list of Note, got "
                            f"{type(inputs).__name__}")
        batched = bool(inputs) and isinstance(inputs[0], (list, tuple)) \
            and not isinstance(inputs[0], midi.Note)
        rows = inputs if batched else [inputs]
        ids = [midi.notes_to_events(row).astype(self.compute_dtype) for row in rows]
        return ids if batched else ids[0]

    def detokenize(self, inputs):
        rows, batched = self.check_ids(inputs)
        notes = [midi.events_to_notes(np.asarray(row, np.int64)) for row in rows]
        return notes if batched else notes[0]

