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
        "--warmup_steps=1", "--val_windows=8", "--verbose=0", "--virtual_cpu_devices=2",
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
from keras_wavegpt.models import build_gpt
x = np.random.default_rng(0).integers(0, 27, (4, 17)).astype("int32")
def train():
    keras.utils.set_random_seed(0)
    model = build_gpt(27, max_sequence_length=16, num_layers=2, hidden_dim=16, num_heads=2,
                      intermediate_dim=32, head_hidden_dim=32, mixer="learnable")
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, [float(model.train_on_batch(x[:, :-1], x[:, 1:])) for _ in range(3)]
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
