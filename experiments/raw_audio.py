r"""Raw audio: next-sample prediction on 8-bit mu-law audio (WaveletGPT §4).

    KERAS_BACKEND=jax python experiments/raw_audio.py --variants=none,haar \
        --preset=small --steps=1000

Reads every WAV file under --wav_dir (default: Debian's
asterisk-core-sounds-en-wav speech prompts), resamples to --sample_rate
(16 kHz, the paper's), mu-law encodes to 256 levels and trains the GPT on
random windows of the resulting stream, each variant on the same batches.
`final_val_bpc` in summary.json is bits per sample here.
"""

from absl import app, flags

from keras_wavegpt.data.audio import ASTERISK_SOUNDS, load_wav_folder
from keras_wavegpt.training import flags as training_flags
from keras_wavegpt.training.flags import (
    define_language_model_flags,
    define_training_flags,
    train_config_from_flags,
    user_errors,
)
from keras_wavegpt.training.runner import compare_language_models, format_table

flags.DEFINE_string("wav_dir", ASTERISK_SOUNDS, "Folder of WAV files (searched recursively).")
flags.DEFINE_integer("sample_rate", 16000, "Resample every file to this rate (Hz).")
define_language_model_flags()
define_training_flags(default_out_dir="runs/raw_audio", default_variants="none,haar")
flags.adopt_module_key_flags(training_flags)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    with user_errors():
        config = train_config_from_flags(FLAGS)
        corpus = load_wav_folder(FLAGS.wav_dir, FLAGS.sample_rate)
    minutes = {name: len(corpus.split(name)) / FLAGS.sample_rate / 60
               for name in ("train", "validation")}
    print(f"{corpus.name}: {minutes['train']:.1f} min train / {minutes['validation']:.1f} min "
          f"validation at {FLAGS.sample_rate} Hz, 256 mu-law levels")
    summary = compare_language_models(
        corpus, config, FLAGS.preset, seq_len=FLAGS.seq_len, val_windows=FLAGS.val_windows,
        dropout=FLAGS.dropout, architecture=FLAGS.architecture,
        metadata=dict(sample_rate=FLAGS.sample_rate),
    )
    print(format_table(summary["variants"]))


if __name__ == "__main__":
    app.run(main)
