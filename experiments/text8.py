r"""Character-level language modelling: compare mixers on text8-style data.

    KERAS_BACKEND=tensorflow python experiments/text8.py \
        --variants=none:learning_rate=4e-3,haar:learning_rate=8e-3,learnable

With no flags it trains `none` and `haar` on pydocs for 4,000 steps as the
long runs of docs/results.md do, each at its own tuned peak rate; a variant
without `learning_rate=` takes --learning_rate.

Datasets: text8 / enwik8 (local copy under --data_dir, or downloaded when
online), pydocs (Python's HTML docs from Debian's python3.11-doc), pydoc_topics
(the help text inside Python), file (--text_file: a text/HTML file or folder).
Writes per-variant logs and checkpoints, summary.json and val_loss.png under
--out_dir; with --sample, each trained variant also continues the same
validation prompt (printed and written to samples.txt).
"""

import os

from absl import flags

from keras_wavegpt import data
from keras_wavegpt.models import SAMPLERS, sampler_with_seed, sliding_generate
from keras_wavegpt.tokenizers import ByteTokenizer, Text8Tokenizer
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
from keras_wavegpt.utils.files import write_text

flags.DEFINE_enum("dataset", "pydocs", data.DATASETS, "Corpus to train on.")
flags.DEFINE_string("text_file", None, "Text/HTML file or folder (--dataset=file).")
flags.DEFINE_string("text_dir", None, "Folder of text/HTML files (--dataset=file).")
flags.DEFINE_string("data_dir", None, "Folder holding text8/enwik8 (or the pydocs HTML).")
flags.DEFINE_bool("sample", False, "After training, print a sample from each variant.")
flags.DEFINE_integer("sample_length", 200, "Characters each sample adds to the prompt.")
flags.DEFINE_integer("prompt_length", 64, "Prompt: this many validation characters.")
flags.DEFINE_enum("sampler", "top_k", list(SAMPLERS), "keras_hub sampler for --sample.")
define_language_model_flags()
# The setting of the long pydocs runs (docs/results.md), each variant at its
# own best peak rate from the `small` GPT's sweep: run with no flags, this
# reproduces one seed of the headline's none and haar rows.
define_training_flags(
    default_out_dir="runs/text8",
    default_variants="none:learning_rate=4e-3,haar:learning_rate=8e-3",
    steps=4000, eval_every=200, warmup_steps=200, batch_size=32, learning_rate=8e-3)
flags.FLAGS.set_default("val_windows", 512)
flags.adopt_module_key_flags(training_flags)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    with user_errors():
        config = train_config_from_flags(FLAGS)
        if FLAGS.prompt_length < 1 or FLAGS.sample_length < 1:
            raise ValueError("--prompt_length and --sample_length must be >= 1")
        if FLAGS.text_file and FLAGS.text_dir:
            raise ValueError("Give --text_file or --text_dir, not both")
        corpus = data.load_corpus(
            FLAGS.dataset, data_dir=FLAGS.data_dir, text_file=FLAGS.text_file or FLAGS.text_dir
        )
    train_ids, val_ids = corpus.split("train"), corpus.split("validation")
    print(f"{corpus.name}: {len(train_ids):,} train / {len(val_ids):,} validation "
          f"symbols, vocabulary {corpus.vocabulary_size}")
    summary = compare_language_models(
        corpus, config, FLAGS.preset, seq_len=FLAGS.seq_len, val_windows=FLAGS.val_windows,
        dropout=FLAGS.dropout, architecture=FLAGS.architecture,
        tokenizer=Text8Tokenizer() if corpus.vocabulary_size == 27 else ByteTokenizer(),
    )
    print(format_table(summary["variants"]))
    if FLAGS.sample:
        write_samples(corpus, val_ids[: FLAGS.prompt_length], summary, config,
                      FLAGS.sample_length, FLAGS.sampler)


def write_samples(corpus, prompt, summary, config, sample_length, sampler):
    """Continues a prompt with every variant's final checkpoint.

    Generation is cached and slides past the context (`sliding_generate`).
    Prints the samples and writes them to `<out_dir>/samples.txt`.

    Args:
        corpus: `TextCorpus`. Decodes the tokens.
        prompt: int array. The prompt's tokens.
        summary: dict. The comparison's summary.
        config: `TrainConfig`. The comparison's settings.
        sample_length: int. Tokens to generate.
        sampler: str. A name of `keras_wavegpt.models.SAMPLERS`.
    """
    lines = [f"prompt: {corpus.decode(prompt)!r}"]
    for label in summary["variants"]:
        path = os.path.join(config.out_dir, f"seed_{config.seeds[0]}", label, "checkpoint.keras")
        lm = load_checkpoint(path)
        lm.compile(sampler=sampler_with_seed(sampler, config.seeds[0]))
        tokens = sliding_generate(lm, prompt, len(prompt) + sample_length)
        lines.append(f"{label}: {corpus.decode(tokens[len(prompt):])!r}")
    write_text(os.path.join(config.out_dir, "samples.txt"), "\n".join(lines) + "\n")
    print("\n".join(lines))

if __name__ == "__main__":
    run_script(main)
