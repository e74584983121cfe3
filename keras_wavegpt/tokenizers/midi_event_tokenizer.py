"""The 388 MIDI performance events as a keras_hub tokenizer."""

import keras
import keras_hub
import numpy as np

from keras_wavegpt.data import midi
from keras_wavegpt.tokenizers.inputs import as_rows


def _event_names():
    names = [f"NOTE_ON_{p}" for p in range(midi.NUM_PITCHES)]
    names += [f"NOTE_OFF_{p}" for p in range(midi.NUM_PITCHES)]
    names += [f"TIME_SHIFT_{k}" for k in range(1, midi.MAX_SHIFT_STEPS + 1)]
    names += [f"SET_VELOCITY_{b}" for b in range(midi.VOCAB_SIZE - midi.SET_VELOCITY)]
    return names


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MidiEventTokenizer(keras_hub.tokenizers.Tokenizer):
    """Notes <-> the 388 performance events of `keras_wavegpt.data.midi`.

    `tokenize` takes a list of `Note` (pitch, velocity, start and end in
    seconds), or a list of such lists, and returns event ids (`NOTE_ON`,
    `NOTE_OFF`, `TIME_SHIFT` in 10 ms steps, `SET_VELOCITY` in 32 bins);
    `detokenize` turns ids back into notes, leniently for sampled sequences
    (`events_to_notes`). The vocabulary is the events' names
    (`"NOTE_ON_60"`, `"TIME_SHIFT_10"`, ...). Notes are not text, so this
    tokenizer runs in plain Python only, not inside `tf.data`; a preset
    carries it so that a model's vocabulary stays named.

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
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self._names = _event_names()
        self._ids = {name: i for i, name in enumerate(self._names)}
        self.pad_token_id = 0
        self.start_token_id = None
        self.end_token_id = None

    def vocabulary_size(self):
        return midi.VOCAB_SIZE

    def get_vocabulary(self):
        return list(self._names)

    def id_to_token(self, id):
        if not 0 <= id < midi.VOCAB_SIZE:
            raise ValueError(f"`id` must be in [0, {midi.VOCAB_SIZE}), got {id}")
        return self._names[id]

    def token_to_id(self, token):
        if token not in self._ids:
            raise ValueError(f"{token!r} is not a MIDI event name (e.g. 'NOTE_ON_60')")
        return self._ids[token]

    def save_assets(self, dir_path):
        """Nothing to save: the vocabulary is fixed."""

    def load_preset_assets(self, preset):
        """Nothing to load: the vocabulary is fixed."""

    @property
    def special_token_ids(self):
        return []

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
        rows, batched = as_rows(inputs)
        notes = [midi.events_to_notes(np.asarray(row, np.int64)) for row in rows]
        return notes if batched else notes[0]

    def call(self, inputs, *args, training=None, **kwargs):
        return self.tokenize(inputs)
