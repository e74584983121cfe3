r"""Symbolic music: next-event prediction on Music Transformer events (WaveletGPT §4).

    KERAS_BACKEND=jax python experiments/midi.py --variants=none,haar \
        --preset=small --steps=1000

Reads every MIDI file under --midi_dir (MAESTRO layout), or by default the
scores of music21's bundled corpus by --composers (rendered to MIDI by
music21), encodes each piece as events of the 388-token vocabulary
(`keras_wavegpt.data.midi`) and trains the GPT on random windows of the
pieces concatenated in a fixed shuffled order, each variant on the same
batches. `final_val_bpc` in summary.json is bits per event here.
"""

from absl import flags

from keras_wavegpt.data.midi import load_midi_folder, load_music21_corpus
from keras_wavegpt.training import flags as training_flags
from keras_wavegpt.training.flags import (
    define_language_model_flags,
    define_training_flags,
    train_config_from_flags,
    run_script,
    user_errors,
)
from keras_wavegpt.training.comparison import compare_language_models
from keras_wavegpt.training.reporting import format_table

flags.DEFINE_string("midi_dir", None, "Folder of .mid/.midi files (searched "
                    "recursively); default: music21's bundled score corpus.")
flags.DEFINE_list("composers", ["bach"], "music21 corpus folders to read "
                  "(e.g. bach,palestrina), or `all`.")
flags.DEFINE_integer("max_pieces", None, "Read at most this many music21 scores.")
flags.DEFINE_string("cache_dir", None, "Where the rendered music21 stream is "
                    "cached (default ~/.keras/datasets).")
define_language_model_flags()
define_training_flags(default_out_dir="runs/midi", default_variants="none,haar")
flags.adopt_module_key_flags(training_flags)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    with user_errors():
        config = train_config_from_flags(FLAGS)
        if FLAGS.midi_dir:
            corpus = load_midi_folder(FLAGS.midi_dir)
        else:
            composers = None if FLAGS.composers == ["all"] else tuple(FLAGS.composers)
            corpus = load_music21_corpus(composers, FLAGS.max_pieces, FLAGS.cache_dir)
    print(f"{corpus.name}: {len(corpus.split('train')):,} train / "
          f"{len(corpus.split('validation')):,} validation events, vocabulary 388")
    summary = compare_language_models(
        corpus, config, FLAGS.preset, seq_len=FLAGS.seq_len, val_windows=FLAGS.val_windows,
        dropout=FLAGS.dropout, architecture=FLAGS.architecture,
    )
    print(format_table(summary["variants"]))


if __name__ == "__main__":
    run_script(main)
