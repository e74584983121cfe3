"""The GPU check that tools/gpu_run.sh runs: benchmarks and a short training run.

    python tools/gpu_run.py --out_dir=runs/gpu            # on the GPU host (via gpu_run.sh)
    python tools/gpu_run.py --out_dir=/tmp/gpu --smoke     # tiny sizes, seconds, any device
    python tools/gpu_run.py --write_corpus                 # here: .whl/pydocs.npz to carry

Per backend (`--backends`, each in its own process, no TensorFlow needed):

(a) `tools/bench_layers.py` at `--preset` for every mixer: layer and step
    time against `none`, peak memory (the GPU's on a GPU), and the step under
    `mixed_bfloat16` against float32;
(b) `tools/bench_generate.py`: cached generation against keras_hub's GPT2;
(c) none / haar / learnable trained side by side at `--preset` on the pydocs
    token ids: same seed, same batches (drawn by numpy), cosine schedule;
    validation loss on fixed windows every `--eval_every` steps, against the
    step and against training seconds (evaluation time and the first,
    compiling step excluded).

Writes `results.json` and `val_loss_vs_step.png`, `val_loss_vs_seconds.png`
to `--out_dir`, and names the device in both.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags
from child_process import run_child

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, ".whl", "pydocs.npz")
MIXERS = ("haar", "learnable", "filterbank", "ema", "canon", "haar+canon")

flags.DEFINE_string("out_dir", os.environ.get("OUT", "runs/gpu"), "Where results go.")
flags.DEFINE_bool("smoke", False, "Tiny sizes on pydoc_topics: checks the script, not the GPU.")
flags.DEFINE_list("backends", ["jax", "torch"], "Backends to run.")
flags.DEFINE_string("preset", "paper", "GPT preset of the benchmarks and the training run.")
flags.DEFINE_integer("steps", 1500, "Training steps per variant.")
flags.DEFINE_integer("eval_every", 100, "Validate every N steps.")
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak learning rate (cosine, 5% warm-up).")
flags.DEFINE_integer("val_windows", 256, "Fixed validation windows.")
flags.DEFINE_bool("write_corpus", False, "Write .whl/pydocs.npz (the token ids to carry).")
flags.DEFINE_string("child", None, "Internal: run the training comparison on this backend.")
FLAGS = flags.FLAGS


def _settings():
    if FLAGS.smoke:
        return dict(preset="tiny", steps=4, eval_every=2, batch_size=2, val_windows=4,
                    rounds=1, new_tokens=4, mixers=("haar+canon",), memory=False,
                    corpus="pydoc_topics", generation_batch_sizes="1")
    return dict(preset=FLAGS.preset, steps=FLAGS.steps, eval_every=FLAGS.eval_every,
                batch_size=FLAGS.batch_size, val_windows=FLAGS.val_windows, rounds=10,
                new_tokens=256, mixers=MIXERS, memory=True, corpus="pydocs",
                generation_batch_sizes="1,8")


def _tokens():
    """(train, validation) token ids: the carried pydocs array, or with
    --smoke Python's own help topics (nothing to carry)."""
    import numpy as np

    if FLAGS.smoke:
        from keras_wavegpt.data import load_corpus

        corpus = load_corpus("pydoc_topics")
        return corpus.split("train"), corpus.split("validation")
    with np.load(CORPUS) as arrays:
        return arrays["train"], arrays["validation"]


def _device():
    import keras

    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    import jax

    device = jax.local_devices()[0]
    return device.device_kind if device.platform == "gpu" else "CPU"


def train_comparison():
    """Validation curves of none / haar / learnable on identical batches."""
    import keras
    import numpy as np

    from keras_wavegpt.data import causal_lm_inputs
    from keras_wavegpt.models import build_gpt, gpt_preset

    s = _settings()
    arch = gpt_preset(s["preset"])
    train, val = _tokens()
    window = arch["max_sequence_length"] + 1
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(train) - window, size=(s["steps"], s["batch_size"]))
    offsets = np.arange(window)
    val_starts = np.linspace(0, len(val) - window, s["val_windows"]).astype(int)
    val_batch = val[val_starts[:, None] + offsets].astype("int32")
    curves = {}
    for mixer in ("none", "haar", "learnable"):
        keras.utils.set_random_seed(0)
        model = build_gpt(27, mixer=mixer, **arch)
        warmup = max(1, s["steps"] // 20)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, s["steps"] - warmup, alpha=0.01, warmup_target=FLAGS.learning_rate,
            warmup_steps=warmup,
        )
        model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      weighted_metrics=[])
        seconds, points = 0.0, []
        for step in range(s["steps"]):
            batch = train[starts[step][:, None] + offsets].astype("int32")
            start = time.perf_counter()
            model.train_on_batch(causal_lm_inputs(batch[:, :-1]), batch[:, 1:])
            if step:  # the first step compiles
                seconds += time.perf_counter() - start
            if (step + 1) % s["eval_every"] == 0:
                loss = model.evaluate(causal_lm_inputs(val_batch[:, :-1]), val_batch[:, 1:],
                                      batch_size=s["batch_size"], verbose=0)
                points.append([step + 1, seconds, float(loss)])
        curves[mixer] = {"params": int(model.count_params()), "curve": points}
    return {"backend": keras.backend.backend(), "device": _device(), "settings": s,
            "training": curves}


def _run(cmd, backend):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, KERAS_BACKEND=backend))
    if out.returncode:
        sys.exit(f"{' '.join(cmd[1:3])} failed on {backend}:\n{out.stderr[-3000:]}")
    return out.stdout


def run_backend(backend, out_dir):
    """Every measurement of one backend: layer benchmarks (float32 and
    mixed bfloat16), generation speed and the training comparison.

    Args:
        backend: str. The Keras backend.
        out_dir: str. Where the benchmarks' JSON files go.

    Returns:
        dict of the results by name.
    """
    s = _settings()
    py, tools = sys.executable, os.path.join(ROOT, "tools")
    result = {}
    layers = os.path.join(out_dir, f"layers_{backend}.json")
    extra = [f"--preset={s['preset']}", f"--rounds={s['rounds']}",
             f"--batch_size={4 if s['preset'] == 'paper' else s['batch_size']}",
             f"--mixers={','.join(s['mixers'])}"]
    _run([py, os.path.join(tools, "bench_layers.py"), f"--backends={backend}",
          f"--json_out={layers}", "--memory" if s["memory"] else "--nomemory", *extra], backend)
    precision = os.path.join(out_dir, f"precision_{backend}.json")
    _run([py, os.path.join(tools, "bench_layers.py"), f"--backends={backend}",
          "--mixed_precision=mixed_bfloat16", f"--json_out={precision}", *extra], backend)
    generation = os.path.join(out_dir, f"generate_{backend}.json")
    _run([py, os.path.join(tools, "bench_generate.py"), f"--backends={backend}",
          f"--presets={s['preset']}", f"--step_preset={s['preset']}",
          f"--batch_sizes={s['generation_batch_sizes']}",
          f"--new_tokens={s['new_tokens']}", f"--rounds={min(s['rounds'], 3)}",
          *(["--early=2", "--late=30"] if FLAGS.smoke else []),
          f"--json_out={generation}"], backend)
    for name, path in (("layers", layers), ("mixed_bfloat16", precision),
                       ("generation", generation)):
        with open(path) as f:
            result[name] = json.load(f)
    result.update(run_child(
        [py, __file__, f"--child={backend}", f"--preset={FLAGS.preset}",
         f"--steps={FLAGS.steps}", f"--eval_every={FLAGS.eval_every}",
         f"--batch_size={FLAGS.batch_size}", f"--learning_rate={FLAGS.learning_rate}",
         f"--val_windows={FLAGS.val_windows}", *(["--smoke"] if FLAGS.smoke else [])],
        backend,
    ))
    return result


def plot(results, out_dir):
    """Draws validation loss against steps and against seconds.

    Args:
        results: list of dict. `run_backend`'s results, one per backend.
        out_dir: str. Where `val_loss_vs_{step,seconds}.png` go.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for axis, column, label in (("step", 0, "training step"),
                                ("seconds", 1, "training seconds")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in results:
            for mixer, entry in r["training"].items():
                curve = entry["curve"]
                ax.plot([p[column] for p in curve], [p[2] for p in curve],
                        label=f"{mixer} ({r['backend']})")
        device = ", ".join(sorted({r["device"] for r in results}))
        ax.set(xlabel=label, ylabel="validation loss (nats)",
               title=f"{results[0]['settings']['preset']} preset on "
                     f"{results[0]['settings']['corpus']}, {device}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, f"val_loss_vs_{axis}.png"), dpi=120)
        plt.close(fig)


def write_corpus():
    import numpy as np

    from keras_wavegpt.data import load_corpus

    corpus = load_corpus("pydocs")
    os.makedirs(os.path.dirname(CORPUS), exist_ok=True)
    np.savez_compressed(CORPUS, train=corpus.split("train"),
                        validation=corpus.split("validation"))
    print(f"wrote {CORPUS} ({os.path.getsize(CORPUS) / 2**20:.1f} MiB)")


def main(argv):
    del argv
    if FLAGS.write_corpus:
        return write_corpus()
    if FLAGS.child:
        print("RESULT " + json.dumps(train_comparison()))
        return
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    started = time.time()
    results = [run_backend(backend, FLAGS.out_dir) for backend in FLAGS.backends]
    with open(os.path.join(FLAGS.out_dir, "results.json"), "w") as f:
        json.dump({"seconds": time.time() - started, "results": results}, f, indent=2)
    plot(results, FLAGS.out_dir)
    for r in results:
        finals = {m: e["curve"][-1][2] for m, e in r["training"].items()}
        print(f"{r['backend']} on {r['device']}: final validation loss {finals}")
    print(f"gpu_run: done in {time.time() - started:.0f} s; results in {FLAGS.out_dir}")


if __name__ == "__main__":
    app.run(main)
