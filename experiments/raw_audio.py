"""Raw audio: next-sample prediction on 8-bit mu-law audio (WaveletGPT §4).

    KERAS_BACKEND=jax python experiments/raw_audio.py --variants=none,haar \
        --preset=small --steps=1000

Reads every WAV file under --wav_dir (default: Debian's
asterisk-core-sounds-en-wav speech prompts), resamples to --sample_rate
(16 kHz, the paper's), mu-law encodes to 256 levels and trains the GPT on
random windows of the resulting stream, each variant on the same batches.
`final_val_bpc` in summary.json is bits per sample here.
"""

from absl import app, flags

from keras_wavegpt import data
from keras_wavegpt.data.audio import ASTERISK_SOUNDS, load_wav_folder
from keras_wavegpt.models import PRESETS, build_gpt, gpt_preset
from keras_wavegpt.training.flags import define_training_flags, train_config_from_flags
from keras_wavegpt.training.runner import format_table, run_comparison

flags.DEFINE_string("wav_dir", ASTERISK_SOUNDS, "Folder of WAV files (searched recursively).")
flags.DEFINE_integer("sample_rate", 16000, "Resample every file to this rate (Hz).")
flags.DEFINE_enum("preset", "small", list(PRESETS), "Model size.")
flags.DEFINE_integer("seq_len", None, "Training window (default: the preset's context).")
flags.DEFINE_integer("val_windows", 256, "Validation windows (fixed, contiguous).")
flags.DEFINE_float("dropout", 0.0, "Dropout inside the decoder blocks.")
define_training_flags(default_out_dir="runs/raw_audio", default_variants="none,haar")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = train_config_from_flags(FLAGS)
    arch = gpt_preset(FLAGS.preset)
    seq_len = FLAGS.seq_len or arch["context_length"]
    if seq_len > arch["context_length"]:
        raise flags.ValidationError(
            f"--seq_len={seq_len} exceeds the {FLAGS.preset} preset's context length "
            f"{arch['context_length']}"
        )
    corpus = load_wav_folder(FLAGS.wav_dir, FLAGS.sample_rate)
    train_ids, val_ids = corpus.split("train"), corpus.split("validation")
    print(f"{corpus.name}: {len(train_ids) / FLAGS.sample_rate / 60:.1f} min train / "
          f"{len(val_ids) / FLAGS.sample_rate / 60:.1f} min validation at "
          f"{FLAGS.sample_rate} Hz, 256 mu-law levels")

    def make_data(seed):
        return (
            data.train_dataset(train_ids, seq_len, config.batch_size, seed=seed),
            data.eval_dataset(val_ids, seq_len, config.batch_size, FLAGS.val_windows),
        )

    def build_model(mixer, mixer_kwargs):
        return build_gpt(256, mixer=mixer, dropout=FLAGS.dropout, **arch, **mixer_kwargs)

    summary = run_comparison(
        build_model, make_data, config,
        metadata=dict(dataset=corpus.name, preset=FLAGS.preset, seq_len=seq_len,
                      sample_rate=FLAGS.sample_rate),
    )
    print(format_table(summary["variants"]))


if __name__ == "__main__":
    app.run(main)
