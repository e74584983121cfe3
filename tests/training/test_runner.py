import json
import os

import keras
import numpy as np
import pytest

from keras_wavegpt import data
from keras_wavegpt.models import build_gpt
from keras_wavegpt.training import TrainConfig, parse_kwargs, parse_variant, run_comparison

ARCH = dict(max_sequence_length=16, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, head_hidden_dim=32)


@pytest.fixture(scope="module")
def corpus():
    return data.load_pydoc_topics()


def test_comparison_over_seeds(corpus, tmp_path):
    config = TrainConfig(
        variants=("none", "haar"), seeds=(0, 1), steps=4, eval_every=2, batch_size=4,
        warmup_steps=1, learning_rate=1e-3, mixer_kwargs={"fraction": 0.25},
        out_dir=str(tmp_path), verbose=0,
    )
    built = []

    def build_model(mixer, kwargs):
        built.append((mixer, kwargs))
        return build_gpt(corpus.vocabulary_size, mixer=mixer, **ARCH, **kwargs)

    def make_data(seed):
        return (data.train_dataset(corpus.split("train"), 16, 4, seed=seed),
                data.eval_dataset(corpus.split("validation"), 16, 4, max_windows=8))

    summary = run_comparison(build_model, make_data, config, metadata={"dataset": "topics"})
    # Mixer arguments reach only the mixers that take them.
    assert built == [("none", {}), ("haar", {"fraction": 0.25})] * 2
    with open(tmp_path / "summary.json") as f:
        assert json.load(f) == json.loads(json.dumps(summary))
    assert summary["config"]["dataset"] == "topics"
    assert summary["backend"] == keras.backend.backend()
    none, haar = summary["variants"]["none"], summary["variants"]["haar"]
    assert none["params"] == haar["params"]
    for entry in (none, haar):
        assert len(entry["runs"]) == 2 and entry["steps"] == 4
        assert [s for s, _ in entry["curve"]] == [2, 4]
        runs = [r["final_val_loss"] for r in entry["runs"]]
        assert entry["final_val_loss"] == pytest.approx(np.mean(runs))
        assert entry["final_val_loss_std"] == pytest.approx(np.std(runs, ddof=1))
        assert entry["final_val_bpc"] == pytest.approx(entry["final_val_loss"] / np.log(2))
        assert entry["sec_per_step"] > 0
    # The baseline reaches its own final loss at its last step.
    assert none["spe"] == 4 and none["speedup"] == 0.0 and none["rel_step_time"] == 1.0
    assert none["welch"] == {} and set(haar["welch"]) == {"none"}
    assert 0 <= haar["welch"]["none"]["p"] <= 1
    for r in haar["runs"]:
        base = none["runs"][r["seed"]]["final_val_loss"]
        reached = [s for s, v in r["curve"] if v <= base]
        assert r["spe"] == (reached[0] if reached else None)
    # Same seed, same batches: seeds differ from each other.
    assert none["runs"][0]["final_val_loss"] != none["runs"][1]["final_val_loss"]
    for seed in (0, 1):
        run = tmp_path / f"seed_{seed}" / "haar"
        with open(run / "log.csv") as f:
            header = f.readline()
        assert "val_loss" in header and "learning_rate" in header
        assert os.listdir(run / "tensorboard")
        model = keras.saving.load_model(str(run / "checkpoint.keras"))
        assert model.count_params() == haar["params"]
    assert os.path.getsize(tmp_path / "val_loss.png") > 1000


def test_each_variant_trains_at_its_own_learning_rate(corpus, tmp_path):
    from keras_wavegpt.training.reporting import format_table

    config = TrainConfig(
        variants=("none:learning_rate=4e-3", "shift=haar:max_kernel=2,learning_rate=2e-3",
                  "haar"),
        steps=2, eval_every=1, batch_size=2, warmup_steps=0, lr_schedule="constant",
        learning_rate=1e-3, out_dir=str(tmp_path), verbose=0,
    )
    built, traced = [], []

    def build_model(mixer, kwargs):
        built.append((mixer, kwargs))
        model = build_gpt(27, mixer=mixer, **ARCH, **kwargs)
        step = model.train_step
        model.train_step = lambda *args: (traced.append(mixer), step(*args))[1]
        return model

    summary = run_comparison(
        build_model,
        lambda seed: (data.train_dataset(corpus.split("train"), 8, 2, seed=seed),
                      data.eval_dataset(corpus.split("validation"), 8, 2, max_windows=2)),
        config,
    )
    assert built == [("none", {}), ("haar", {"max_kernel": 2}), ("haar", {})]
    if keras.backend.backend() != "torch":  # compiled: the step's Python runs once per trace
        assert traced == ["none", "haar", "haar"]  # one trace a run (optimizer built before)
    rates = {"none": 4e-3, "shift": 2e-3, "haar": 1e-3}
    for label, rate in rates.items():
        assert summary["variants"][label]["learning_rate"] == rate
        with open(tmp_path / "seed_0" / label / "log.csv") as f:
            logged = [float(row.split(",")[1]) for row in f.read().splitlines()[1:]]
        assert logged == pytest.approx([rate, rate]), label
        with open(tmp_path / "seed_0" / label / "record.json") as f:
            assert json.load(f)["settings"]["learning_rate"] == rate
    rows = format_table(summary["variants"]).splitlines()
    assert rows[0].startswith("| variant | params | peak rate |")
    assert [row.split(" | ")[2] for row in rows[2:5]] == ["0.004", "0.002", "0.001"]


def test_plateau_schedule_runs(corpus, tmp_path):
    config = TrainConfig(variants=("ema",), steps=2, eval_every=1, batch_size=2,
                         lr_schedule="plateau", out_dir=str(tmp_path), verbose=0)
    summary = run_comparison(
        lambda m, kw: build_gpt(27, mixer=m, **ARCH, **kw),
        lambda seed: (data.train_dataset(corpus.split("train"), 8, 2, seed=seed),
                      data.eval_dataset(corpus.split("validation"), 8, 2, max_windows=2)),
        config,
    )
    assert summary["variants"]["ema"]["spe"] is None  # no baseline to compare with


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(variants=("none", "wavelet")), "accepted values"),
        (dict(variants=("haar", "haar")), "repeats"),
        (dict(steps=10, eval_every=3), "multiple"),
        (dict(lr_schedule="linear"), "accepted values"),
        (dict(variants=("none", "ema"), mixer_kwargs={"schedule": "linear"}), "none of the variants"),
        (dict(batch_size=0), "batch_size"),
        (dict(warmup_steps=1000), "warmup_steps"),
        (dict(variants=("none", "lite=haar:num_filters=4")), "does not accept"),
        (dict(variants=("none", "a=multirate", "a=haar")), "repeats"),
        (dict(variants=("none", "a=wavelet:x=1")), "accepted values"),
        (dict(meta_objective="fast"), "meta_objective"),
        (dict(learning_rate=1e-3, min_learning_rate=2e-3), "schedule would rise"),
        (dict(variants=("none", "haar:learning_rate=1e-6")), "variant 'haar'.*would rise"),
        (dict(variants=("haar:learning_rate=-1",)), "variant 'haar'.s learning_rate"),
        (dict(lr_schedule="plateau", min_learning_rate=1.0), "schedule would rise"),
    ],
)
def test_bad_config(changes, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**changes).validate()


def test_parse_kwargs():
    assert parse_kwargs("fraction=0.25, schedule=linear,learnable=True") == {
        "fraction": 0.25, "schedule": "linear", "learnable": True}
    assert parse_kwargs("") == {}
    assert parse_kwargs("kernel_sizes=(4, 16,64),num_filters=48") == {
        "kernel_sizes": (4, 16, 64), "num_filters": 48}
    with pytest.raises(ValueError, match="key=value"):
        parse_kwargs("fraction")


def test_parse_variant():
    assert parse_variant("haar") == ("haar", "haar", {})
    assert parse_variant("fb_lite=filterbank:num_filters=48,kernel_sizes=(4,8)") == (
        "fb_lite", "filterbank", {"num_filters": 48, "kernel_sizes": (4, 8)})
    assert parse_variant("adaptive=multirate") == ("adaptive", "multirate", {})
    assert parse_variant("haar:learning_rate=8e-3,fraction=0.25") == (
        "haar", "haar", {"learning_rate": 8e-3, "fraction": 0.25})
    with pytest.raises(ValueError, match="label=mixer"):
        parse_variant("=haar")


def test_mixed_precision_reaches_every_run(corpus, tmp_path):
    # Regression: clear_session() between runs used to reset the policy to float32.
    config = TrainConfig(
        variants=("haar", "adaptive=multirate:adaptive=True"), steps=2, eval_every=2,
        batch_size=4, warmup_steps=0, learning_rate=1e-3, mixed_precision="mixed_bfloat16",
        out_dir=str(tmp_path), verbose=0,
    )
    summary = run_comparison(
        lambda mixer, kwargs: build_gpt(corpus.vocabulary_size, mixer=mixer, **ARCH, **kwargs),
        lambda seed: (data.train_dataset(corpus.split("train"), 16, 4, seed=seed),
                      data.eval_dataset(corpus.split("validation"), 16, 4, max_windows=8)),
        config,
    )
    for label, entry in summary["variants"].items():
        assert entry["runs"][0]["dtype_policy"] == "mixed_bfloat16", label
        assert np.isfinite(entry["final_val_loss"])
    assert keras.mixed_precision.dtype_policy().name == "float32"  # restored


def test_float16_on_jax_cpu_is_refused_clearly():
    config = TrainConfig(mixed_precision="mixed_float16")
    if keras.backend.backend() == "jax":
        with pytest.raises(ValueError, match="mixed_bfloat16"):
            config.validate()
    else:
        config.validate()
    with pytest.raises(ValueError, match="mixed_precision"):
        TrainConfig(mixed_precision="float8").validate()
