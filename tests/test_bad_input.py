"""Wrong input to every public entry point fails at once, naming the argument.

`CASES` (82 cases, each raising the listed error whose message names what is
wrong), by entry point:

- Layers (22): `CausalWavelet` rank-2 input, integer input, `max_kernel`
  0 and not a power of two (dyadic), `fraction` 0, unknown `schedule`;
  `CausalEMA` `fraction` 1.5; `TimeFrequencyFilterbank` `num_filters` 0,
  `kernel_sizes` (0,), `num_filters` not splitting into the scale groups,
  `adaptive_dim` not divisible by the heads, `fraction` 1.5, integer input;
  `MultirateDecomposition` `downsample` 0, `filter_length` 0; `LFORouting`
  `num_routes` 0, `num_routes` not dividing the width, `kernel_size` 0;
  `ChannelBottleneck` `bottleneck_ratio` 0; `BoundedParameter` lo > hi;
  `DSPDecoderBlock` `num_heads` 0, rank-2 input.
- Registry (2): `get_mixer` unknown name, unknown argument.
- Models (15): `build_gpt` `vocabulary_size` 0, `num_layers` -1, `num_heads`
  not dividing `hidden_dim`, unknown `mixer`; a GPT called on a sequence
  longer than its context and on rank-3 tokens; `gpt_preset` unknown name;
  `build_sequence_classifier` with one class; `build_audio_transformer`
  with a clip that is not whole patches and a filter longer than a patch;
  `sliding_generate` with `max_length` below the prompt, empty prompt,
  float prompt, out-of-vocabulary prompt; `compile` with an unknown
  `sampler`.
- Data (31): `load_corpus` unknown dataset, missing file, `file` without
  `text_file`; `load_text8` on a corrupt zip, a zip without the member, a
  file that is not text8; `load_text_files` on a folder with no text;
  `train_dataset` on a split shorter than one window, `batch_size` 0,
  `seq_len` 0; `eval_dataset` on an empty split, `max_windows` 0;
  `TextCorpus.split` unknown name; `generate_listops` with no examples and
  with `max_length` < `min_length`; `classification_datasets` `batch_size`
  0; an LRA task's unknown split; `load_imdb` and `load_cifar10` without
  their data; `load_wav_folder` on a folder with no WAV and with
  `sample_rate` 0; `read_wav` on a file that is not WAV; `read_midi` on
  bytes that are not MIDI; `load_midi_folder` on a folder with no MIDI;
  `load_music21_corpus` unknown composer; `events_to_notes` an id outside
  the 388; `bpe_tokenizer` without its merges file; `train_bpe`
  `vocabulary_size` 256; `read_text_splits` unknown dataset;
  `load_labelled_clips` without its CSV; `load_fsd50k` without the data.
  (Corrupt and empty WAV and MIDI files inside a folder are skipped with a
  counted warning: `tests/data/test_audio.py`, `test_midi.py`,
  `test_audio_classification.py`.)
- Training (12): `TrainConfig` unknown variant, argument the variant's
  mixer does not take, `steps` 0, `steps` not a multiple of `eval_every`,
  negative `learning_rate`, unknown `mixed_precision`; `parse_variant`
  without a label; `parse_kwargs` without `=`; `MetaOptimizer` unknown
  `meta_objective`, `meta_update_every` 0; `TrainingBackup` checkpoint
  path not ending in `.keras`; `compare_language_models` with a `seq_len`
  past the preset's context.

Beyond the table (4 tests): NaN/inf in the data stops training through
`TerminateOnNaN` with a message and keeps the last good checkpoint; training
data that is not an endless `tf.data.Dataset` is refused (Keras would restart
a finite one silently); a NaN or inf in a mixer's
input never reaches earlier outputs (except through `learnable`'s opt-in
`fft=True` path, as its docstring says); `TrainingBackup.restore` into an
uncompiled model. Script flags (`experiments/text8.py` unknown variant, missing
file; `experiments/lra.py` a source of another task) are checked in
`tests/experiments/`.

Not errors, by design: float token ids given to a GPT are cast to int32 by
Keras' functional model, as for any `keras.Input(dtype="int32")`; a
`sliding_generate` prompt longer than the context is cropped to the window's
last tokens; out-of-vocabulary ids inside a compiled model cannot raise on JAX,
so they are checked where ids enter (`generate`, the corpus loaders).
"""

import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_wavegpt import data
from keras_wavegpt.data import audio, bpe, lra, midi
from keras_wavegpt.data import audio_classification as clips
from keras_wavegpt import layers as L
from keras_wavegpt import models as M
from keras_wavegpt import training as T
from tests.helpers import to_numpy

TINY = dict(max_sequence_length=16, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, head_hidden_dim=32)
STREAM = np.zeros((2, 8, 4), "float32")
INTS = np.zeros((2, 8, 4), "int32")


def _gpt():
    return M.build_gpt(27, **TINY)


def _topics():
    return data.load_pydoc_topics()


def _listops():
    return lra.generate_listops(20, min_length=3, max_length=16, max_depth=3)


def _zip(tmp_path, member, payload):
    path = tmp_path / "text8.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, payload)
    return tmp_path


def _file(tmp_path, name, payload):
    (tmp_path / name).write_bytes(payload)
    return tmp_path / name


CASES = {
    # Layers
    "wavelet rank 2": (lambda p: L.CausalWavelet()(STREAM[0]), ValueError, r"\(batch, time, channels\)"),
    "wavelet int input": (lambda p: L.CausalWavelet()(INTS), TypeError, "floating-point"),
    "wavelet max_kernel 0": (lambda p: L.CausalWavelet(max_kernel=0), ValueError, "max_kernel"),
    "wavelet max_kernel 6": (lambda p: L.CausalWavelet(max_kernel=6), ValueError, "power of two"),
    "wavelet fraction 0": (lambda p: L.CausalWavelet(fraction=0), ValueError, "fraction"),
    "wavelet schedule": (lambda p: L.CausalWavelet(schedule="cubic"), ValueError, "schedule"),
    "ema fraction": (lambda p: L.CausalEMA(fraction=1.5), ValueError, "fraction"),
    "filterbank num_filters 0": (lambda p: L.TimeFrequencyFilterbank(num_filters=0), ValueError, "num_filters"),
    "filterbank kernel 0": (lambda p: L.TimeFrequencyFilterbank(kernel_sizes=(0,)), ValueError, "kernel_sizes"),
    "filterbank groups": (lambda p: L.TimeFrequencyFilterbank(num_filters=10, kernel_sizes=(2, 4, 8)), ValueError, "num_filters"),
    "filterbank adaptive_dim": (lambda p: L.TimeFrequencyFilterbank(adaptive=True, adaptive_dim=30), ValueError, "adaptive_dim"),
    "filterbank fraction": (lambda p: L.TimeFrequencyFilterbank(fraction=1.5), ValueError, "fraction"),
    "filterbank int input": (lambda p: L.TimeFrequencyFilterbank(num_filters=4)(INTS), TypeError, "floating-point"),
    "multirate downsample 0": (lambda p: L.MultirateDecomposition(downsample=0), ValueError, "downsample"),
    "multirate filter_length 0": (lambda p: L.MultirateDecomposition(filter_length=0), ValueError, "filter_length"),
    "lfo num_routes 0": (lambda p: L.LFORouting(num_routes=0), ValueError, "num_routes"),
    "lfo routes vs width": (lambda p: L.LFORouting(num_routes=3)(STREAM), ValueError, "num_routes"),
    "lfo kernel_size 0": (lambda p: L.LFORouting(kernel_size=0), ValueError, "kernel_size"),
    "bottleneck ratio 0": (lambda p: L.ChannelBottleneck(bottleneck_ratio=0), ValueError, "bottleneck_ratio"),
    "bounded lo > hi": (lambda p: L.BoundedParameter(1.0, 0.0, 0.5), ValueError, "lo < hi"),
    "decoder num_heads 0": (lambda p: L.DSPDecoderBlock(num_heads=0, intermediate_dim=8), ValueError, "num_heads"),
    "decoder rank 2": (lambda p: L.DSPDecoderBlock(num_heads=2, intermediate_dim=8)(STREAM[0]), ValueError, r"\(batch, time, channels\)"),
    # Registry
    "get_mixer unknown": (lambda p: L.get_mixer("wavelets"), ValueError, "accepted values"),
    "get_mixer argument": (lambda p: L.get_mixer("haar", foo=1), (TypeError, ValueError), "foo"),
    # Models
    "gpt vocabulary_size 0": (lambda p: M.build_gpt(0, **TINY), ValueError, "vocabulary_size"),
    "gpt num_layers -1": (lambda p: M.build_gpt(27, **dict(TINY, num_layers=-1)), ValueError, "num_layers"),
    "gpt num_heads": (lambda p: M.build_gpt(27, **dict(TINY, num_heads=3)), ValueError, "num_heads"),
    "gpt mixer": (lambda p: M.build_gpt(27, mixer="wave", **TINY), ValueError, "Unknown mixer 'wave'"),
    "gpt too long": (lambda p: _gpt()(data.causal_lm_inputs(np.zeros((1, 17), "int32"))), ValueError, "max_sequence_length 16"),
    "gpt rank 3": (lambda p: _gpt()(data.causal_lm_inputs(np.zeros((1, 8, 2), "int32"))), ValueError, "shape"),
    "gpt_preset": (lambda p: M.gpt_preset("huge"), ValueError, "preset"),
    "classifier num_classes": (lambda p: M.build_sequence_classifier(16, 8, 1), ValueError, "num_classes"),
    "audio clip not whole patches": (lambda p: M.build_audio_transformer(5, clip_seconds=0.99), ValueError, "multiple of `patch`"),
    "audio filter past the patch": (lambda p: M.build_audio_transformer(5, filter_length=500), ValueError, "filter_length"),
    "generate max_length": (lambda p: M.sliding_generate(_gpt(), np.zeros(5, "int32"), 3), ValueError, "max_length"),
    "generate sampler": (lambda p: _gpt().compile(sampler="nucleus"), ValueError, "Unknown sampler"),
    "generate empty prompt": (lambda p: M.sliding_generate(_gpt(), np.zeros(0, "int32"), 8), ValueError, "prompt"),
    "generate float prompt": (lambda p: M.sliding_generate(_gpt(), np.full(5, 0.5), 8), ValueError, "prompt"),
    "generate out of vocabulary": (lambda p: M.sliding_generate(_gpt(), np.full(5, 99), 8), ValueError, r"token_ids.*\[0, 27\)"),
    # Data
    "load_corpus unknown": (lambda p: data.load_corpus("wiki"), ValueError, "dataset"),
    "load_corpus missing file": (lambda p: data.load_corpus("file", text_file=str(p / "no.txt")), FileNotFoundError, "no.txt"),
    "load_corpus no text_file": (lambda p: data.load_corpus("file"), ValueError, "text_file"),
    "text8 corrupt zip": (lambda p: data.load_text8(_file(p, "text8.zip", b"PK\x03\x04cut").parent), ValueError, "not a readable zip"),
    "text8 zip without member": (lambda p: data.load_text8(_zip(p, "enwik8", b"x")), ValueError, "no member 'text8'"),
    "text8 not text8": (lambda p: data.load_text8(_file(p, "text8", b"Hello World").parent), ValueError, "is not text8"),
    "text files none": (lambda p: data.load_text_files(str(p)), FileNotFoundError, "No .txt"),
    "train split too short": (lambda p: data.train_dataset(np.zeros(10, "uint8"), 16, 4), ValueError, "seq_len"),
    "train batch_size 0": (lambda p: data.train_dataset(np.zeros(100, "uint8"), 16, 0), ValueError, "batch_size"),
    "train seq_len 0": (lambda p: data.train_dataset(np.zeros(100, "uint8"), 0, 4), ValueError, "seq_len"),
    "eval empty split": (lambda p: data.eval_dataset(np.zeros(0, "uint8"), 16, 4), ValueError, "0 symbols"),
    "eval max_windows 0": (lambda p: data.eval_dataset(np.zeros(100, "uint8"), 16, 2, max_windows=0), ValueError, "max_windows"),
    "split unknown": (lambda p: _topics().split("dev"), ValueError, "split"),
    "listops num_examples 0": (lambda p: lra.generate_listops(0), ValueError, "num_examples"),
    "listops lengths": (lambda p: lra.generate_listops(2, min_length=9, max_length=4), ValueError, "max_length"),
    "lra batch_size 0": (lambda p: lra.classification_datasets(_listops(), 0), ValueError, "batch_size"),
    "lra split unknown": (lambda p: _listops().split("dev"), ValueError, "split"),
    "lra imdb missing": (lambda p: lra.load_imdb(str(p)), FileNotFoundError, "aclImdb"),
    "lra cifar10 missing": (lambda p: lra.load_cifar10(str(p)), FileNotFoundError, "tfds build"),
    "wav folder empty": (lambda p: audio.load_wav_folder(str(p)), FileNotFoundError, "No .wav"),
    "wav sample_rate 0": (lambda p: audio.load_wav_folder(str(p), sample_rate=0), ValueError, "sample_rate"),
    "wav not a wav": (lambda p: audio.read_wav(_file(p, "x.wav", b"RIFFjunk")), ValueError, "not a readable PCM WAV"),
    "midi not midi": (lambda p: midi.read_midi(b"RIFFjunk"), ValueError, "not a readable MIDI"),
    "midi folder empty": (lambda p: midi.load_midi_folder(str(p)), FileNotFoundError, "No .mid"),
    "music21 composer": (lambda p: midi.load_music21_corpus(("nobody",)), ValueError, "composers"),
    "midi event id": (lambda p: midi.events_to_notes([400]), ValueError, r"\[0, 388\)"),
    "bpe merges missing": (lambda p: bpe.bpe_tokenizer(str(p / "v.json"), str(p / "m.txt")), FileNotFoundError, "vocabulary"),
    "bpe vocabulary_size 256": (lambda p: bpe.train_bpe("text", 256, str(p)), ValueError, "vocabulary_size"),
    "bpe dataset": (lambda p: bpe.read_text_splits("wiki"), ValueError, "dataset"),
    "clips csv missing": (lambda p: clips.load_labelled_clips(str(p), str(p / "l.csv")), FileNotFoundError, "l.csv"),
    "fsd50k missing": (lambda p: clips.load_fsd50k(str(p)), FileNotFoundError, "FSD50K"),
    # Training
    "config variant": (lambda p: T.TrainConfig(variants=("wave",)).validate(), ValueError, "wave"),
    "config variant argument": (lambda p: T.TrainConfig(variants=("h=haar:foo=1",)).validate(), ValueError, "foo"),
    "config steps 0": (lambda p: T.TrainConfig(steps=0).validate(), ValueError, "steps"),
    "config eval_every": (lambda p: T.TrainConfig(steps=10, eval_every=3).validate(), ValueError, "eval_every"),
    "config learning_rate": (lambda p: T.TrainConfig(learning_rate=-1.0).validate(), ValueError, "learning_rate"),
    "config mixed_precision": (lambda p: T.TrainConfig(mixed_precision="fp8").validate(), ValueError, "mixed_precision"),
    "parse_variant": (lambda p: T.parse_variant("=haar"), ValueError, "variant"),
    "parse_kwargs": (lambda p: T.parse_kwargs("fraction"), ValueError, "key=value"),
    "meta_objective": (lambda p: T.MetaOptimizer(keras.optimizers.Adam(), meta_objective="x"), ValueError, "meta_objective"),
    "meta_update_every": (lambda p: T.MetaOptimizer(keras.optimizers.Adam(), meta_update_every=0), ValueError, "meta_update_every"),
    "seq_len past the context": (lambda p: T.compare_language_models(_topics(), T.TrainConfig(), "tiny", seq_len=64), ValueError, "seq_len"),
    "backup checkpoint_path": (lambda p: T.TrainingBackup(p, checkpoint_path=p / "m.h5"), ValueError, "checkpoint_path"),
}


def test_the_docstring_counts_the_cases():
    assert f"({len(CASES)} cases" in __doc__


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_clearly(name, tmp_path):
    call, error, match = CASES[name]
    with pytest.raises(error, match=match):
        call(tmp_path)


def _toy_comparison(tmp_path, make_train):
    """The runner on a two-feature classifier whose data we control."""
    config = T.TrainConfig(variants=("none",), steps=4, eval_every=1, batch_size=4,
                           lr_schedule="constant", learning_rate=1e-2, out_dir=str(tmp_path),
                           verbose=0)
    x = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def make_data(seed):
        return make_train(x, y), tf.data.Dataset.from_tensor_slices((x, y)).batch(4)

    def build_model(mixer, kwargs):
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])

    return T.run_comparison(build_model, make_data, config)


def test_nan_in_training_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    def poisoned(x, y):  # inputs turn to NaN from the third step on
        steps = tf.data.Dataset.counter()
        batches = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(4)
        return tf.data.Dataset.zip(batches, steps).map(
            lambda b, s: (tf.where(s >= 2, np.nan, b[0]), b[1])
        )

    with pytest.raises(FloatingPointError, match=r"non-finite.*2 of 4 epochs"):
        _toy_comparison(tmp_path, poisoned)
    out = capsys.readouterr().out
    assert "Invalid loss, terminating training" in out  # TerminateOnNaN's message
    checkpoint = tmp_path / "seed_0" / "none" / "checkpoint.keras"
    model = keras.saving.load_model(checkpoint)
    assert int(to_numpy(model.optimizer.iterations)) == 2
    assert all(np.isfinite(to_numpy(w)).all() for w in model.weights)


def test_finite_training_data_is_refused(tmp_path):
    # Keras would silently restart it each time it runs out.
    with pytest.raises(ValueError, match="holds 2 batches.*endless"):
        _toy_comparison(tmp_path, lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).batch(4).take(2))
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        _toy_comparison(tmp_path, lambda x, y: (x, y))


@pytest.mark.parametrize("mixer", ["haar", "learnable", "ema", "filterbank", "multirate"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_input_never_reaches_earlier_outputs(mixer, bad):
    layer = L.get_mixer(mixer, **({"num_filters": 8} if mixer == "filterbank" else {}))
    layers = list(layer.values()) if isinstance(layer, dict) else [layer]
    x = np.random.default_rng(0).normal(size=(2, 32, 8)).astype("float32")
    x[:, 20, 3] = bad
    for sublayer in layers:
        y = to_numpy(sublayer(x))
        assert np.isfinite(y[:, :20]).all(), sublayer.name
        assert not np.isfinite(y[:, 20:]).all()


def test_restore_into_an_uncompiled_model(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0,
              callbacks=[T.TrainingBackup(tmp_path)])
    fresh = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="Compile"):
        T.TrainingBackup(tmp_path).restore(fresh)
