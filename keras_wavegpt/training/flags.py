"""absl flags shared by every experiment script, and their `TrainConfig`."""

from absl import flags

from keras_wavegpt.training.meta import META_OBJECTIVES
from keras_wavegpt.training.runner import SCHEDULES, TrainConfig, parse_kwargs


def define_training_flags(default_out_dir, default_variants="none,haar"):
    """Define the flags of `TrainConfig` (call once, at import of a script)."""
    flags.DEFINE_list("variants", default_variants, "Mixers to compare (comma list).")
    flags.DEFINE_multi_string("variant", [], "Another variant with its own mixer "
                              "arguments: label=mixer:key=value,... (repeatable), "
                              "e.g. adaptive=multirate:adaptive=True.")
    flags.DEFINE_list("seeds", None, "Seeds to repeat every variant with (comma list).")
    flags.DEFINE_integer("seed", 0, "Seed when --seeds is not given.")
    flags.DEFINE_integer("steps", 1000, "Training steps per variant.")
    flags.DEFINE_integer("eval_every", 100, "Validate (and checkpoint) every N steps.")
    flags.DEFINE_integer("batch_size", 16, "Batch size.")
    flags.DEFINE_float("learning_rate", 3e-4, "Peak learning rate (Adam).")
    flags.DEFINE_enum("schedule", "cosine", SCHEDULES,
                      "cosine: warm-up + cosine decay; plateau: the paper's "
                      "3e-4 halved on plateaus down to --min_learning_rate.")
    flags.DEFINE_integer("warmup_steps", 100, "Linear warm-up steps (cosine).")
    flags.DEFINE_float("min_learning_rate", 1e-5, "Floor of the schedule.")
    flags.DEFINE_float("clipnorm", 1.0, "Gradient norm clipping.")
    flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"],
                      "XLA/JIT compile the train step.")
    flags.DEFINE_enum("mixed_precision", None, ["mixed_float16", "mixed_bfloat16"],
                      "Keras dtype policy for the run (default float32).")
    flags.DEFINE_string("mixer_kwargs", "",
                        "Mixer arguments, e.g. fraction=0.25,schedule=linear; each "
                        "variant takes those it accepts.")
    flags.DEFINE_float("meta_learning_rate", 1e-4, "Adam learning rate of adaptive "
                       "hyperparameters (multirate with adaptive=True).")
    flags.DEFINE_integer("meta_update_every", 100, "Steps between meta updates.")
    flags.DEFINE_enum("meta_objective", "smoothed_loss", list(META_OBJECTIVES),
                      "What the meta updates minimise (see MetaOptimizer).")
    flags.DEFINE_float("meta_ema_decay", 0.9, "EMA decay of the smoothed loss.")
    flags.DEFINE_string("out_dir", default_out_dir, "Where logs, checkpoints and "
                        "summary.json go.")
    flags.DEFINE_bool("resume", False, "Continue each run of --out_dir from its last "
                      "backup (after a kill or crash) instead of starting afresh.")
    flags.DEFINE_bool("data_parallel", False, "Split every batch over all devices: "
                      "keras.distribution.DataParallel on JAX, MirroredStrategy on "
                      "TensorFlow.")
    flags.DEFINE_integer("virtual_cpu_devices", 0, "Split the CPU into this many "
                         "devices first (to try --data_parallel without GPUs).")
    flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"],
                      "model.fit verbosity (1: progress bar).")


def define_language_model_flags():
    """Flags of a GPT trained on a token stream (`compare_language_models`)."""
    from keras_wavegpt.models import PRESETS

    flags.DEFINE_enum("preset", "small", list(PRESETS), "Model size.")
    flags.DEFINE_integer("seq_len", None, "Training window (default: the preset's context).")
    flags.DEFINE_integer("val_windows", 256, "Validation windows (fixed, contiguous).")
    flags.DEFINE_float("dropout", 0.0, "Dropout inside the decoder blocks.")


def train_config_from_flags(values):
    """A `TrainConfig` from parsed flag values (`absl.flags.FLAGS`)."""
    jit = {"auto": "auto", "true": True, "false": False}[values.jit_compile]
    verbose = values.verbose if values.verbose == "auto" else int(values.verbose)
    seeds = tuple(int(s) for s in values.seeds) if values.seeds else (values.seed,)
    return TrainConfig(
        variants=tuple(values.variants) + tuple(values.variant),
        seeds=seeds,
        steps=values.steps,
        eval_every=values.eval_every,
        batch_size=values.batch_size,
        learning_rate=values.learning_rate,
        schedule=values.schedule,
        warmup_steps=values.warmup_steps,
        min_learning_rate=values.min_learning_rate,
        clipnorm=values.clipnorm,
        jit_compile=jit,
        mixed_precision=values.mixed_precision,
        mixer_kwargs=parse_kwargs(values.mixer_kwargs),
        meta_learning_rate=values.meta_learning_rate,
        meta_update_every=values.meta_update_every,
        meta_objective=values.meta_objective,
        meta_ema_decay=values.meta_ema_decay,
        out_dir=values.out_dir,
        resume=values.resume,
        data_parallel=values.data_parallel,
        virtual_cpu_devices=values.virtual_cpu_devices,
        verbose=verbose,
    )
