r"""Raw audio: next-sample prediction on 8-bit mu-law audio (WaveletGPT §4).

    KERAS_BACKEND=jax python experiments/raw_audio.py --variants=none,haar \
        --preset=small --steps=1000

Reads every WAV file under --wav_dir (default: Debian's
asterisk-core-sounds-en-wav speech prompts), resamples to --sample_rate
(16 kHz, the paper's), mu-law encodes to 256 levels and trains the GPT on
random windows of the resulting stream, each variant on the same batches.
`final_val_bpc` in summary.json is bits per sample here. With --sample,
each variant continues one validation prompt: `<out_dir>/prompt.wav` and
`<out_dir>/seed_<s>/<variant>/sample.wav` (prompt, then continuation).
"""

import os

from absl import flags

from keras_wavegpt.data.audio import (
    ASTERISK_SOUNDS,
    load_wav_folder,
    mu_law_decode,
    write_wav,
)
from keras_wavegpt.models import SAMPLERS, sampler_with_seed, sliding_generate
from keras_wavegpt.training import flags as training_flags
from keras_wavegpt.training.callbacks import load_checkpoint
from keras_wavegpt.training.flags import (
    define_language_model_flags,
    define_training_flags,
    train_config_from_flags,
    run_script,
    user_errors,
)
from keras_wavegpt.training.comparison import compare_language_models
from keras_wavegpt.training.reporting import format_table

flags.DEFINE_string("wav_dir", ASTERISK_SOUNDS, "Folder of WAV files (searched recursively).")
flags.DEFINE_integer("sample_rate", 16000, "Resample every file to this rate (Hz).")
flags.DEFINE_bool("sample", False, "After training, write each variant's continuation as WAV.")
flags.DEFINE_integer("prompt_length", 4000, "Prompt: this many validation samples.")
flags.DEFINE_integer("sample_length", 4000, "Samples each variant adds to the prompt.")
flags.DEFINE_enum("sampler", "top_k", list(SAMPLERS), "keras_hub sampler for --sample.")
define_language_model_flags()
define_training_flags(default_out_dir="runs/raw_audio", default_variants="none,haar")
flags.adopt_module_key_flags(training_flags)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    with user_errors():
        config = train_config_from_flags(FLAGS)
        if FLAGS.prompt_length < 1 or FLAGS.sample_length < 1:
            raise ValueError("--prompt_length and --sample_length must be >= 1")
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
    if FLAGS.sample:
        prompt = corpus.split("validation")[: FLAGS.prompt_length]
        write_audio_samples(prompt, summary, config, FLAGS.sample_length, FLAGS.sampler,
                            FLAGS.sample_rate)


def write_audio_samples(prompt, summary, config, sample_length, sampler, sample_rate):
    """Continues a mu-law prompt with every variant's final checkpoint.

    Writes the prompt and each continuation (prompt included) as WAV files.

    Args:
        prompt: int array. The prompt's mu-law levels.
        summary: dict. The comparison's summary.
        config: `TrainConfig`. The comparison's settings.
        sample_length: int. Samples to generate.
        sampler: str. A name of `keras_wavegpt.models.SAMPLERS`.
        sample_rate: int. The WAV files' rate in Hz.
    """
    write_wav(os.path.join(config.out_dir, "prompt.wav"), mu_law_decode(prompt), sample_rate)
    seed = config.seeds[0]
    for label in summary["variants"]:
        run_dir = os.path.join(config.out_dir, f"seed_{seed}", label)
        lm = load_checkpoint(os.path.join(run_dir, "checkpoint.keras"))
        lm.compile(sampler=sampler_with_seed(sampler, seed))
        ids = sliding_generate(lm, prompt, len(prompt) + sample_length)
        path = os.path.join(run_dir, "sample.wav")
        write_wav(path, mu_law_decode(ids), sample_rate)
        print(f"{label}: {path}")


if __name__ == "__main__":
    run_script(main)
