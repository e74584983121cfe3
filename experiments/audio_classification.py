r"""Audio tagging: compare mixers in the Audio Transformer (WaveletGPT §4.4).

    KERAS_BACKEND=jax python experiments/audio_classification.py \
        --variants=none,haar --steps=2000

Data (`--source`): spoken_digits (default, offline: one or two digits said
by Debian's espeak-ng in 84 English voices at random speeds and pitches,
synthesised into --data_dir on first use; 10 classes, multi-label) or
fsd50k (the unpacked FSD-50K release at --data_dir; 200 classes). Every clip
is its first --clip_seconds at --sample_rate. The model is the paper's
Audio Transformer (learned filters max-pooled per 25 ms patch, 6 blocks of
width 64, Dense(2048) head); summary.json reports the validation top-1 and
top-5 hit rates and mAP (final_val_top1, final_val_top5, final_val_mAP).
"""

import os

from absl import flags

from keras_wavegpt.data import audio_classification as clips_data
from keras_wavegpt.models import build_audio_transformer
from keras_wavegpt.training import flags as training_flags
from keras_wavegpt.training.flags import (
    define_training_flags,
    train_config_from_flags,
    run_script,
    user_errors,
)
from keras_wavegpt.training.metrics import TAGGING_METRICS, tagging_task
from keras_wavegpt.training.comparison import run_comparison
from keras_wavegpt.training.reporting import format_table

flags.DEFINE_enum("source", "spoken_digits", ["spoken_digits", "fsd50k"], "Clips to tag.")
flags.DEFINE_string("data_dir", None, "fsd50k: the release folder; spoken_digits: where "
                    "the clips are synthesised (default ~/.keras/datasets/spoken_digits).")
flags.DEFINE_integer("num_clips", 1200, "spoken_digits: clips to synthesise.")
flags.DEFINE_integer("sample_rate", 16000, "Resample every clip to this rate (Hz).")
flags.DEFINE_float("clip_seconds", 1.0, "Seconds of each clip the model hears.")
flags.DEFINE_integer("num_filters", 128, "Learned front-end filters.")
flags.DEFINE_integer("filter_length", 200, "Samples per front-end filter.")
flags.DEFINE_integer("patch", 400, "Samples per patch (max-pooled to one vector).")
flags.DEFINE_integer("num_layers", 6, "Transformer blocks.")
flags.DEFINE_integer("hidden_dim", 64, "Model width.")
flags.DEFINE_integer("num_heads", 8, "Attention heads.")
flags.DEFINE_integer("intermediate_dim", 256, "Feed-forward width.")
flags.DEFINE_float("dropout", 0.0, "Dropout inside the blocks.")
define_training_flags(default_out_dir="runs/audio_classification", default_variants="none,haar")
flags.adopt_module_key_flags(training_flags)
FLAGS = flags.FLAGS


def load_clips():
    if FLAGS.source == "fsd50k":
        if not FLAGS.data_dir:
            raise ValueError("--source=fsd50k needs --data_dir")
        return clips_data.load_fsd50k(FLAGS.data_dir, FLAGS.sample_rate, FLAGS.clip_seconds)
    data_dir = FLAGS.data_dir or os.path.join(os.path.expanduser("~"), ".keras", "datasets",
                                              "spoken_digits")
    return clips_data.load_spoken_digits(data_dir, FLAGS.num_clips, FLAGS.sample_rate,
                                         FLAGS.clip_seconds)


def main(argv):
    del argv
    with user_errors():
        config = train_config_from_flags(FLAGS)
        clips = load_clips()
    counts = {name: int((clips.splits == name).sum()) for name in clips_data.SPLITS}
    print(f"{clips.name}: {counts['train']:,} train / {counts['validation']:,} validation "
          f"clips of {FLAGS.clip_seconds:g} s at {FLAGS.sample_rate} Hz, "
          f"{len(clips.classes)} classes, {clips.y.sum(1).mean():.2f} labels a clip")

    def build_model(mixer, mixer_kwargs):
        return build_audio_transformer(
            len(clips.classes), sample_rate=FLAGS.sample_rate, clip_seconds=FLAGS.clip_seconds,
            num_filters=FLAGS.num_filters, filter_length=FLAGS.filter_length, patch=FLAGS.patch,
            hidden_dim=FLAGS.hidden_dim, num_layers=FLAGS.num_layers, num_heads=FLAGS.num_heads,
            intermediate_dim=FLAGS.intermediate_dim, mixer=mixer, dropout=FLAGS.dropout,
            **mixer_kwargs,
        )

    summary = run_comparison(
        build_model,
        lambda seed: clips_data.clip_datasets(clips, config.batch_size, seed=seed),
        config,
        metadata=dict(dataset=clips.name, sample_rate=FLAGS.sample_rate,
                      clip_seconds=FLAGS.clip_seconds, classes=list(clips.classes)),
        metric_names=TAGGING_METRICS,
        compile_task=lambda: tagging_task(len(clips.classes)),
    )
    print(format_table(summary["variants"], TAGGING_METRICS))


if __name__ == "__main__":
    run_script(main)
