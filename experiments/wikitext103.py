r"""BPE language modelling: compare mixers on byte-pair tokens (WaveletGPT §4).

    KERAS_BACKEND=tensorflow python experiments/wikitext103.py \
        --dataset=wikitext103 --tokenizer_preset=gpt2_base_en --variants=none,haar

Datasets: wikitext103 (local copy under --data_dir, or downloaded when
online), pydocs (Python's HTML docs from Debian's python3.11-doc, case and
punctuation kept), file (--text_file). Tokens come from keras_hub's
BytePairTokenizer: --vocab_file + --merges_file, a keras_hub preset
(--tokenizer_preset, online; gpt2_base_en is GPT-2's 50,257 tokens), or by
default a byte-level BPE vocabulary of --bpe_vocab_size learned from the
training split and written to --out_dir/bpe/. `final_val_bpc` in
summary.json is bits per token here.
"""

import os

from absl import flags

from keras_wavegpt.data import bpe
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

flags.DEFINE_enum("dataset", "pydocs", bpe.BPE_DATASETS, "Corpus to train on.")
flags.DEFINE_string("data_dir", None, "Folder holding WikiText-103 (or the pydocs HTML).")
flags.DEFINE_string("text_file", None, "Text/HTML file or folder (--dataset=file).")
flags.DEFINE_string("vocab_file", None, "BPE vocab.json (with --merges_file).")
flags.DEFINE_string("merges_file", None, "BPE merges.txt (with --vocab_file).")
flags.DEFINE_string("tokenizer_preset", None, "keras_hub preset with a byte-pair "
                    "tokenizer, e.g. gpt2_base_en (needs network the first time).")
flags.DEFINE_integer("bpe_vocab_size", 4096, "Vocabulary to learn from the training "
                     "split when no vocabulary or preset is given.")
flags.DEFINE_string("cache_dir", None, "Where token ids are cached (default ~/.keras/datasets).")
define_language_model_flags()
define_training_flags(default_out_dir="runs/wikitext103", default_variants="none,haar")
flags.adopt_module_key_flags(training_flags)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    with user_errors():
        config = train_config_from_flags(FLAGS)
        if bool(FLAGS.vocab_file) != bool(FLAGS.merges_file):
            raise ValueError("Give --vocab_file and --merges_file together")
        splits = bpe.read_text_splits(FLAGS.dataset, FLAGS.data_dir, FLAGS.text_file)
    if FLAGS.vocab_file or FLAGS.tokenizer_preset:
        tokenizer = bpe.bpe_tokenizer(FLAGS.vocab_file, FLAGS.merges_file, FLAGS.tokenizer_preset)
        source = FLAGS.tokenizer_preset or FLAGS.vocab_file
    else:
        out = os.path.join(config.out_dir, "bpe")
        files = [os.path.join(out, f) for f in ("vocab.json", "merges.txt")]
        if not (config.resume and all(map(os.path.isfile, files))):
            files = bpe.train_bpe(splits["train"], FLAGS.bpe_vocab_size, out)
        tokenizer = bpe.bpe_tokenizer(*files)
        source = f"learned from the {FLAGS.dataset} training split"
    corpus = bpe.tokenize_splits(tokenizer, splits, FLAGS.dataset, FLAGS.cache_dir)
    chars = {name: len(text) for name, text in splits.items()}
    tokens = {name: len(corpus.split(name)) for name in splits}
    print(f"{corpus.name}: {tokens['train']:,} train / {tokens['validation']:,} validation "
          f"tokens ({chars['train'] / tokens['train']:.2f} characters a token), "
          f"vocabulary {corpus.vocabulary_size} ({source})")
    summary = compare_language_models(
        corpus, config, FLAGS.preset, seq_len=FLAGS.seq_len, val_windows=FLAGS.val_windows,
        dropout=FLAGS.dropout, architecture=FLAGS.architecture, tokenizer=tokenizer,
        metadata=dict(tokenizer=source, chars_per_token=chars["validation"] / tokens["validation"]),
    )
    print(format_table(summary["variants"]))


if __name__ == "__main__":
    run_script(main)
