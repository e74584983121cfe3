"""The experiment runner every script shares: train variants side by side.

For each seed, every variant (a mixer name, or `label=mixer:key=value,...`
for a mixer with its own arguments) is built from the same seed and
trained with `model.fit` on the same batches (the training pipeline is keyed
by seed and step). Each run writes its folder `out_dir/seed_<s>/<variant>/`
(`keras_wavegpt.training.fit`) and its record; the comparison then writes
`out_dir/summary.json` (`docs/design.md`, "Metrics") and its plots
(`keras_wavegpt.training.reporting`).
"""

import contextlib
import dataclasses
import os

import keras

from keras_wavegpt.layers.registry import mixer_arguments
from keras_wavegpt.training import records
from keras_wavegpt.training.callbacks import load_checkpoint
from keras_wavegpt.training.distributed import (
    initialize_processes,
    process_shard,
    virtual_cpu_devices,
)
from keras_wavegpt.training.fit import check_endless, train_variant
from keras_wavegpt.training.reporting import summarize, write_summary
from keras_wavegpt.training.settings import ARCHITECTURES, VARIANT_SETTINGS, parse_variant
from keras_wavegpt.utils.files import FolderLock, write_json
from keras_wavegpt.utils.validation import check_choice


def run_comparison(build_model, make_data, config, metadata=None, metric_names=(),
                   compile_task=None):
    """Train every variant for every seed and summarise.

    Args:
        build_model: callable. `(mixer, mixer_kwargs) -> keras.Model`.
        make_data: callable. `seed -> (train_ds, val_ds)`, `tf.data`
            datasets (the training one endless).
        config: `TrainConfig`. Variants, seeds and how to train.
        metadata: dict or `None`. Extra settings recorded in the summary's
            `config` (dataset, preset, sequence length, ...). Defaults to
            `None`.
        metric_names: tuple of str. Keras metrics the task reports besides
            the loss (e.g. `("accuracy",)`); summarised as
            `final_val_<name>`. Defaults to `()`.
        compile_task: callable or `None`. `() -> (loss, metrics)`, see
            `train_variant`. Defaults to `None`.

    Returns:
        The summary dict, also written to `config.out_dir/summary.json`.
    """
    config.validate()
    with _folder_lock(config):
        return _run_comparison(build_model, make_data, config, metadata, metric_names,
                               compile_task)


def _folder_lock(config):
    """The run folder's lock; only process 0 of a multi-process job takes it."""
    return FolderLock(config.out_dir) if config.process_id == 0 else contextlib.nullcontext()


def _run_comparison(build_model, make_data, config, metadata, metric_names, compile_task):
    if config.num_processes > 1:
        initialize_processes(config.coordinator_address, config.num_processes,
                             config.process_id)
    if config.virtual_cpu_devices:
        virtual_cpu_devices(config.virtual_cpu_devices)
    previous_policy = keras.mixed_precision.dtype_policy()
    specs = [parse_variant(v) for v in config.variants]
    runs = {label: [] for label, _, _ in specs}
    code, started = records.code_version(), records.utc_now()
    settings = dict(summarize({}, config)["config"], **(metadata or {}))
    try:
        for seed in config.seeds:
            train_ds, val_ds = make_data(seed)
            check_endless(train_ds)
            train_ds, val_ds = (process_shard(d, config.process_id, config.num_processes)
                                for d in (train_ds, val_ds))
            for label, mixer, own_kwargs in specs:
                variant_config, kwargs = _variant_settings(config, mixer, own_kwargs)
                record = train_variant(
                    lambda: build_model(mixer, kwargs),
                    train_ds,
                    val_ds,
                    variant_config,
                    os.path.join(config.out_dir, f"seed_{seed}", label),
                    seed,
                    metric_names,
                    compile_task,
                )
                record["seed"] = seed
                record["learning_rate"] = variant_config.learning_rate
                runs[label].append(record)
                if config.process_id == 0:
                    write_json(
                        os.path.join(config.out_dir, f"seed_{seed}", label, records.RECORD_FILE),
                        records.make_record(
                            record, label, mixer, kwargs,
                            dict(settings, learning_rate=variant_config.learning_rate),
                            code, started))
    finally:
        keras.mixed_precision.set_dtype_policy(previous_policy)
    summary = summarize(runs, config, metric_names)
    summary["config"].update(metadata or {})
    if config.process_id == 0:
        write_summary(summary, config.out_dir)
    return summary


def _variant_settings(config, mixer, own_kwargs):
    """`(config, mixer_kwargs)` of one variant: `config` with the variant's
    own settings (its `learning_rate`), and the shared `mixer_kwargs` it
    accepts, then its own."""
    own = {k: v for k, v in own_kwargs.items() if k in VARIANT_SETTINGS}
    kwargs = {k: v for k, v in config.mixer_kwargs.items() if k in mixer_arguments(mixer)}
    kwargs.update((k, v) for k, v in own_kwargs.items() if k not in VARIANT_SETTINGS)
    return dataclasses.replace(config, **own), kwargs


def compare_language_models(corpus, config, preset, seq_len=None, val_windows=256,
                            dropout=0.0, metadata=None, architecture="gpt", tokenizer=None):
    """`run_comparison` for GPTs on a token stream (text, bytes, mu-law audio).

    Args:
        corpus: `keras_wavegpt.data.TextCorpus`. Its train and validation
            splits and vocabulary.
        config: `TrainConfig`. Variants, seeds and how to train.
        preset: str. GPT preset name (`keras_wavegpt.models.PRESETS`).
        seq_len: int or `None`. Training window. Defaults to `None`, the
            preset's context length.
        val_windows: int. Fixed validation windows (`eval_dataset`'s
            `max_windows`). Defaults to `256`.
        dropout: float. Dropout inside the decoder blocks. Defaults to
            `0.0`.
        metadata: dict or `None`. More settings to record in the summary's
            `config`. Defaults to `None`.
        architecture: str. `"gpt"` (`build_gpt`, WaveletGPT's model) or
            `"llama"` (`build_llama`: keras_hub's Llama decoder of the same
            dimensions, with the mixers through `add_mixers`). Defaults to
            `"gpt"`.
        tokenizer: keras_hub `Tokenizer` or `None`. The corpus' tokenizer,
            carried by every `"gpt"` variant's preset (`Text8Tokenizer`,
            `ByteTokenizer`); `None`, and every `"llama"` preset (keras_hub's
            Llama preprocessor takes only its own tokenizer), take token
            ids. Defaults to `None`.
    """
    from keras_wavegpt import data
    from keras_wavegpt.models import build_gpt, build_llama, gpt_preset

    check_choice("architecture", architecture, ARCHITECTURES)
    arch = gpt_preset(preset)
    seq_len = seq_len or arch["max_sequence_length"]
    if seq_len > arch["max_sequence_length"]:
        raise ValueError(
            f"`seq_len`={seq_len} exceeds the {preset} preset's context length "
            f"{arch['max_sequence_length']}"
        )
    train_ids, val_ids = corpus.split("train"), corpus.split("validation")

    def make_data(seed):
        return (
            data.train_dataset(train_ids, seq_len, config.batch_size, seed=seed),
            data.eval_dataset(val_ids, seq_len, config.batch_size, val_windows),
        )

    def build_model(mixer, mixer_kwargs):
        if architecture == "llama":
            return build_llama(corpus.vocabulary_size, mixer=mixer, dropout=dropout, **arch,
                               **mixer_kwargs)
        return build_gpt(corpus.vocabulary_size, mixer=mixer, dropout=dropout, **arch,
                         **mixer_kwargs)

    settings = dict(dataset=corpus.name, preset=preset, seq_len=seq_len,
                    architecture=architecture, **(metadata or {}))
    config.validate()
    with _folder_lock(config):  # one writer from the first run to the last preset
        summary = run_comparison(build_model, make_data, config, metadata=settings)
        if config.process_id == 0:
            write_presets(config, seq_len, tokenizer if architecture == "gpt" else None)
    return summary


def write_presets(config, seq_len, tokenizer=None):
    """Saves each trained causal LM's final checkpoint as a keras_hub preset.

    Each run folder gets `<run>/preset`, for the model class's
    `from_preset` (`WaveletGPTCausalLM`, `MixerLlamaCausalLM`); keras_hub's
    `CausalLM.from_preset` loads the `WaveletGPTCausalLM` ones (on a mixer
    preset it may pick the other mixer family's class).

    Args:
        config: `TrainConfig`. The comparison's settings.
        seq_len: int. The preprocessor's sequence length.
        tokenizer: keras_hub `Tokenizer` or `None`. With one, the preset has
            a `WaveletGPTCausalLMPreprocessor` around it; with `None`, token
            ids go in and out. Defaults to `None`.
    """
    from keras_wavegpt.models import WaveletGPTCausalLMPreprocessor

    for seed in config.seeds:
        for label in (parse_variant(v)[0] for v in config.variants):
            run_dir = os.path.join(config.out_dir, f"seed_{seed}", label)
            lm = load_checkpoint(os.path.join(run_dir, "checkpoint.keras"))
            if tokenizer is not None:
                lm.preprocessor = WaveletGPTCausalLMPreprocessor(tokenizer,
                                                                 sequence_length=seq_len)
            lm.save_to_preset(os.path.join(run_dir, "preset"))
