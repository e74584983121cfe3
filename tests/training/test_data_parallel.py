"""--data_parallel on two virtual CPU devices equals a one-device run.

JAX splits batches with `keras.distribution.DataParallel`, TensorFlow with
`tf.distribute.MirroredStrategy`; PyTorch is refused with a message. The
script runs in subprocesses because devices are fixed when a backend starts.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_wavegpt.training import TrainConfig
from keras_wavegpt.training.distributed import data_parallel
from tests.experiments.test_text8_script import ROOT

BACKEND = keras.backend.backend()


def _launch(out_dir, *extra):
    command = [
        sys.executable,
        os.path.join(ROOT, "experiments", "text8.py"), "--dataset=pydoc_topics",
        "--preset=tiny", "--variants=haar", "--steps=6", "--eval_every=2",
        "--warmup_steps=1", "--learning_rate=3e-4", "--val_windows=8", "--verbose=0",
        "--virtual_cpu_devices=2",
        f"--out_dir={out_dir}", *extra,
    ]
    env = dict(os.environ, KERAS_BACKEND=BACKEND)
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.skipif(BACKEND == "torch", reason="no single-process data parallelism")
def test_two_devices_match_one(tmp_path):
    runs = {
        "one": _launch(tmp_path / "one", "--batch_size=4"),
        "two": _launch(tmp_path / "two", "--batch_size=4", "--data_parallel"),
        "odd": _launch(tmp_path / "odd", "--batch_size=3", "--data_parallel"),
    }
    logs = {name: p.communicate(timeout=600)[0] for name, p in runs.items()}
    assert runs["one"].returncode == 0 and runs["two"].returncode == 0, logs
    assert runs["odd"].returncode != 0
    assert "`batch_size`=3 does not split evenly over 2 devices" in logs["odd"]
    one, two = (
        json.loads((tmp_path / d / "summary.json").read_text())["variants"]["haar"]
        for d in ("one", "two")
    )
    assert one["runs"][0]["replicas"] == 1 and two["runs"][0]["replicas"] == 2
    np.testing.assert_allclose(
        [v for _, v in two["curve"]], [v for _, v in one["curve"]], rtol=1e-5
    )


def test_refused_clearly_where_it_cannot_run():
    if BACKEND == "torch":
        with pytest.raises(ValueError, match="torchrun"):
            TrainConfig(data_parallel=True).validate()
        with pytest.raises(ValueError, match="torchrun"):
            with data_parallel(4):
                pass
    else:  # this test process has one CPU device
        with pytest.raises(ValueError, match="needs at least 2"):
            with data_parallel(4):
                pass


MODEL_PARALLEL = """
import json, numpy as np, keras
from keras_wavegpt.training.distributed import gpt_layout_map, virtual_cpu_devices
virtual_cpu_devices(2)
from keras_wavegpt.data import causal_lm_inputs
from keras_wavegpt.models import build_gpt
x = np.random.default_rng(0).integers(0, 27, (4, 17)).astype("int32")
def train():
    keras.utils.set_random_seed(0)
    model = build_gpt(27, max_sequence_length=16, num_layers=2, hidden_dim=16, num_heads=2,
                      intermediate_dim=32, head_hidden_dim=32, mixer="learnable")
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, [float(model.train_on_batch(causal_lm_inputs(x[:, :-1]), x[:, 1:],
                                              return_dict=True)["loss"]) for _ in range(3)]
_, one = train()
mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], keras.distribution.list_devices())
with keras.distribution.ModelParallel(layout_map=gpt_layout_map(mesh), batch_dim_name="batch").scope():
    model, split = train()
sharded = sorted(w.path for w in model.weights if "model" in tuple(w.value.sharding.spec))
print("RESULT " + json.dumps({"one": one, "split": split, "sharded": sharded}))
"""


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution model parallelism is JAX's")
def test_gpt_layout_map_shards_the_decoder_and_trains_the_same():
    result = subprocess.run([sys.executable, "-c", MODEL_PARALLEL], capture_output=True,
                            text=True, timeout=600, env=dict(os.environ, KERAS_BACKEND="jax"))
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    np.testing.assert_allclose(out["split"], out["one"], rtol=1e-5)
    per_block = ["self_attention/query/kernel", "self_attention/query/bias",
                 "self_attention/key/kernel", "self_attention/key/bias",
                 "self_attention/value/kernel", "self_attention/value/bias",
                 "self_attention/attention_output/kernel",
                 "feedforward_intermediate_dense/kernel", "feedforward_intermediate_dense/bias",
                 "feedforward_output_dense/kernel"]
    expected = [f"block_{i}/{p}" for i in range(2) for p in per_block]
    expected += ["embedding/token_embedding/embeddings", "head/kernel", "head/bias",
                 "logits/kernel"]
    assert out["sharded"] == sorted(expected)  # the learnable mixer stays replicated


DRIVER = """
import os, sys
import numpy as np
from keras_wavegpt import data
from keras_wavegpt.models import build_gpt, gpt_preset
from keras_wavegpt.training import TrainConfig, run_comparison

out, processes, process_id, port, resume = sys.argv[1:6]
processes, process_id = int(processes), int(process_id)
config = TrainConfig(
    variants=("haar",), steps=4, eval_every=2, batch_size=4, learning_rate=3e-3,
    warmup_steps=1, out_dir=out, verbose=0, resume=resume == "resume",
    num_processes=processes, process_id=process_id,
    coordinator_address=f"localhost:{port}" if processes > 1 else None,
)
corpus = data.load_pydoc_topics()
models = []

def build_model(mixer, kwargs):
    models.append(build_gpt(corpus.vocabulary_size, mixer=mixer, **gpt_preset("tiny"), **kwargs))
    return models[-1]

def make_data(seed):
    return (data.train_dataset(corpus.split("train"), 32, config.batch_size, seed=seed),
            data.eval_dataset(corpus.split("validation"), 32, config.batch_size, 8))

summary = run_comparison(build_model, make_data, config)
np.savez(os.path.join(out, f"weights_{process_id}.npz"),
         *[np.asarray(w) for w in models[-1].weights])
print("curve", [v for _, v in summary["variants"]["haar"]["curve"]], flush=True)
"""


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _driver(tmp_path, out, processes, process_id, port, resume=""):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT)
    return subprocess.Popen(
        [sys.executable, str(script), str(out), str(processes), str(process_id), str(port),
         resume], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _curve(log):
    return json.loads(log.rsplit("curve ", 1)[1].splitlines()[0])


@pytest.mark.skipif(BACKEND != "jax", reason="multi-process data parallel runs on JAX")
def test_two_processes_match_one_and_agree(tmp_path):
    port = _free_port()
    runs = [_driver(tmp_path, tmp_path / "two", 2, i, port) for i in (0, 1)]
    runs.append(_driver(tmp_path, tmp_path / "one", 1, 0, 0))
    logs = [p.communicate(timeout=600)[0] for p in runs]
    assert all(p.returncode == 0 for p in runs), logs
    # Both processes report the global loss, which the one-process run on the
    # same global batches also computes.
    np.testing.assert_allclose(_curve(logs[0]), _curve(logs[2]), rtol=1e-5)
    assert _curve(logs[0]) == _curve(logs[1])
    two = tmp_path / "two"
    first, second = (np.load(two / f"weights_{i}.npz") for i in (0, 1))
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    # Process 0 alone writes the summary, logs and checkpoint.
    run = two / "seed_0" / "haar"
    assert (two / "summary.json").exists() and (run / "checkpoint.keras").exists()
    assert (run / "log.csv").exists()

    # Resume: both processes restore process 0's backup (the finished run is
    # not trained again) and hold the same weights as before.
    port = _free_port()
    runs = [_driver(tmp_path, two, 2, i, port, "resume") for i in (0, 1)]
    logs = [p.communicate(timeout=600)[0] for p in runs]
    assert all(p.returncode == 0 for p in runs), logs
    for i in (0, 1):
        restored = np.load(two / f"weights_{i}.npz")
        for key in first:
            np.testing.assert_array_equal(restored[key], first[key])


@pytest.mark.skipif(BACKEND != "jax", reason="multi-process data parallel runs on JAX")
def test_an_unreachable_coordinator_fails_in_time(tmp_path):
    script = tmp_path / "join.py"
    script.write_text(
        "from keras_wavegpt.training.distributed import initialize_processes\n"
        f"initialize_processes('localhost:{_free_port()}', 2, 1, timeout_seconds=5)\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, KERAS_BACKEND="jax",
                                                  PYTHONPATH=ROOT))
    assert result.returncode != 0
    assert "could not join the job" in result.stderr and "--num_processes" in result.stderr


@pytest.mark.skipif(BACKEND != "jax", reason="multi-process data parallel runs on JAX")
def test_a_mismatched_process_count_is_named(tmp_path):
    port = _free_port()
    script = tmp_path / "join.py"
    script.write_text(
        "import sys\n"
        "from keras_wavegpt.training.distributed import initialize_processes\n"
        f"initialize_processes('localhost:{port}', int(sys.argv[1]), int(sys.argv[2]),"
        " timeout_seconds=60)\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT)
    runs = [subprocess.Popen([sys.executable, str(script), n, i], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for n, i in (("2", "0"), ("3", "1"))]
    logs = [p.communicate(timeout=300)[0] for p in runs]
    assert runs[1].returncode != 0
    assert "started with `num_processes`=3, but the job" in logs[1] and "has 2" in logs[1]


@pytest.mark.parametrize(
    "settings,match",
    [
        (dict(num_processes=2, process_id=2, coordinator_address="h:1"), "process_id"),
        (dict(num_processes=2), "coordinator_address"),
        (dict(num_processes=3, batch_size=4, coordinator_address="h:1"),
         "does not split evenly over 3 processes"),
        (dict(num_processes=0), "num_processes"),
    ],
)
def test_bad_process_settings_fail_clearly(settings, match):
    match = "JAX" if BACKEND != "jax" and settings.get("num_processes", 1) > 1 else match
    with pytest.raises((ValueError, TypeError), match=match):
        TrainConfig(**settings).validate()
