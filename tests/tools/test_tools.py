"""The benchmark and run-merging tools run end to end (numbers are not checked
here: timings belong to benchmarks, never to tests)."""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import pytest

from tests.helpers import once_on

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_tool(name, *args):
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", name), *args],
                          env=env, capture_output=True, text=True, timeout=600)


def _tool_module(name):
    """A tool's functions, imported into this process (no subprocess's imports to pay)."""
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(ROOT, "tools", name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@once_on("jax", "bench_layers.py's report (the modes test runs it on every backend)")
def test_bench_layers_reports_ratios(tmp_path):
    out = tmp_path / "bench.json"
    result = run_tool("bench_layers.py", f"--backends={keras.backend.backend()}",
                      "--preset=tiny", "--batch_size=2", "--rounds=2", "--mixers=",
                      "--variant=fb=filterbank:num_filters=8,kernel_sizes=(2,4)", "--peer",
                      f"--json_out={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(out.read_text())
    assert row["backend"] == keras.backend.backend()
    assert set(row["step_vs_none"]) == set(row["layer_vs_identity"]) == {"fb"}
    assert set(row["extra_peak_mib"]) == {"fb"} and row["none_peak_mib"] > 100
    assert "fb step / none" in result.stdout and "fb extra peak (MiB)" in result.stdout
    assert row["none_vs_peer"] > 0 and "none / GPT2" in result.stdout
    # XLA counts the filterbank's extra work.
    assert row["flops_vs_none"]["fb"] > 1.0 and row["bytes_vs_none"]["fb"] > 1.0
    assert "| fb |" in result.stdout


@once_on("tensorflow", "bench_generate.py's report (generation is tested on every backend)")
def test_bench_generate_reports_rates(tmp_path):
    out = tmp_path / "generate.json"
    result = run_tool("bench_generate.py", f"--backends={keras.backend.backend()}",
                      "--presets=tiny", "--batch_sizes=2", "--mixers=haar", "--new_tokens=4",
                      "--rounds=1", "--step_preset=tiny", "--early=2",
                      "--late=30", f"--json_out={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(out.read_text())
    (rates,) = row["rows"]
    assert rates["new_tokens"] == 4 and set(rates["tokens_per_s"]) == {"gpt2", "haar"}
    assert row["late_vs_early"] > 0
    (llama,) = row["llama_rows"]
    assert set(llama["tokens_per_s"]) == {"llama", "haar"} and llama["vs_llama"]["haar"] > 0
    assert "haar / gpt2" in result.stdout and "One cached haar step" in result.stdout
    assert "llama+haar / llama" in result.stdout


def test_bench_distributed_and_mixed_precision_modes(tmp_path):
    out = tmp_path / "modes.json"
    backend = keras.backend.backend()
    result = run_tool("bench_layers.py", f"--backends={backend}", "--preset=tiny",
                      "--batch_size=2", "--rounds=1", "--mixers=", "--distributed",
                      "--mixed_precision=mixed_bfloat16", f"--json_out={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())
    precision = rows[-1]
    assert precision["policy"] == "mixed_bfloat16" and precision["step_mixed_vs_float32"]["none"] > 0
    if backend == "torch":
        assert len(rows) == 1 and "no single-process data parallelism" in result.stdout
    else:  # same first loss on one device and split over two
        assert rows[0]["devices"] == 2 and rows[0]["first_loss_abs_diff"]["none"] < 1e-5


@once_on("tensorflow", "profile_step.py's parts (the models are tested on every backend)")
def test_profile_step_times_every_part():
    result = run_tool("profile_step.py", f"--backends={keras.backend.backend()}",
                      "--preset=tiny", "--batch_size=2", "--rounds=1")
    assert result.returncode == 0, result.stderr[-3000:]
    for part in ("gpt", "blocks", "attention", "mlp", "head", "embedding"):
        assert f"| {part} | " in result.stdout


@once_on("torch", "compare_runs.py's tables")
def test_compare_runs_merges_summaries(tmp_path):
    for name, loss in (("a", 2.0), ("b", 1.5)):
        os.makedirs(tmp_path / name)
        entry = {"params": 10, "final_val_loss": loss, "final_val_bpc": loss / 0.69,
                 "spe": None, "speedup": None, "rel_step_time": 1.0, "sec_per_step": 0.5,
                 "curve": [[1, loss + 1], [2, loss]]}
        with open(tmp_path / name / "summary.json", "w") as f:
            json.dump({"variants": {"none": entry, "haar": dict(entry, params=10)}}, f)
    plot = tmp_path / "merged.png"
    result = run_tool("compare_runs.py", str(tmp_path / "a"), str(tmp_path / "b"),
                      f"--out={plot}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| a/haar |" in result.stdout and "| b/none | 10 | - | 1.5000 |" in result.stdout
    assert plot.stat().st_size > 1000
    missing = run_tool("compare_runs.py", str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "No summary.json" in missing.stderr



def _summary(folder, runs):
    """A summary.json whose variants hold `{variant: {seed: (loss, curve)}}`."""
    variants = {}
    for variant, seeds in runs.items():
        records = [{"seed": seed, "params": 10, "steps": curve[-1][0], "final_val_loss": loss,
                    "final_val_bpc": loss / 0.69, "sec_per_step": 0.5, "curve": curve}
                   for seed, (loss, curve) in seeds.items()]
        variants[variant] = {"runs": records}
    os.makedirs(folder)
    with open(folder / "summary.json", "w") as f:
        json.dump({"variants": variants}, f)


@once_on("torch", "compare_runs.py's tables")
def test_compare_runs_pools_seeds_over_folders(tmp_path):
    def run(*losses):
        return losses[-1], [[200 * (i + 1), v] for i, v in enumerate(losses)]

    # Seed 1 of the baseline ends higher, so haar's seed 1 reaches it sooner.
    _summary(tmp_path / "a", {"none": {0: run(3.0, 2.0, 1.5), 1: run(3.0, 2.5, 1.9)},
                              "haar": {0: run(2.0, 1.5, 1.4)}, "skip": {0: run(9.0)}})
    _summary(tmp_path / "b", {"haar": {1: run(1.8, 1.5, 1.3)},
                              "shift": {0: run(2.5, 1.7, 1.45), 1: run(2.5, 1.8, 1.6)}})
    out = tmp_path / "pooled.json"
    result = run_tool("compare_runs.py", f"{tmp_path / 'a'}:none,haar", str(tmp_path / "b"),
                      "--pool", "--references=shift", f"--out={tmp_path / 'p.png'}",
                      f"--summary_out={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    variants = json.loads(out.read_text())["variants"]
    assert list(variants) == ["none", "haar", "shift"]
    haar = variants["haar"]
    assert [(r["seed"], r["folder"], r["spe"]) for r in haar["runs"]] == [(0, "a", 400),
                                                                          (1, "b", 200)]
    assert haar["final_val_loss"] == pytest.approx(1.35) and haar["seeds"] == 2
    assert set(haar["welch"]) == {"none", "shift"} and set(variants["shift"]["welch"]) == {"none"}
    assert "| variant | params | peak rate | seeds |" in result.stdout and " vs shift |" in result.stdout
    # haar vs none and vs shift, shift vs none: none's cell against shift is that same test
    assert "3 tests in this table" in result.stdout
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert (tmp_path / "p_seconds.png").stat().st_size > 1000

    # The command's errors, in this process (the merge test runs one through the command line).
    compare_runs = _tool_module("compare_runs.py")
    with pytest.raises(ValueError, match="Seed 0 of 'shift' is in both 'b' and 'b'"):
        compare_runs.pool([str(tmp_path / "b"), f"{tmp_path / 'b'}:shift"])
    with pytest.raises(ValueError, match=r"no variant \['learnable'\]"):
        compare_runs.pool([f"{tmp_path / 'a'}:haar,learnable"])
    with pytest.raises(ValueError, match=r"--references \['canon'\]"):
        compare_runs.pool([str(tmp_path / "b")], references=("canon",))


@once_on("jax", "plot_kernels.py's plots")
def test_plot_kernels_draws_filterbank_and_wavelet_kernels(tmp_path):
    from keras_wavegpt.models import build_gpt

    arch = dict(max_sequence_length=16, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32,
                head_hidden_dim=32)
    for mixer, kwargs in (("filterbank", dict(num_filters=8, kernel_sizes=(4, 8))),
                          ("learnable", {})):
        build_gpt(27, mixer=mixer, **arch, **kwargs).save(str(tmp_path / f"{mixer}.keras"))
    result = run_tool("plot_kernels.py", str(tmp_path / "filterbank.keras"),
                      f"--out_dir={tmp_path / 'fb'}")
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads((tmp_path / "fb" / "kernels.json").read_text())
    assert [(s["group"], s["kernel_size"], s["filters"]) for s in stats] == [(0, 4, 4), (1, 8, 4)]
    for g in (0, 1):
        assert (tmp_path / "fb" / f"mixer_1_group{g}.png").stat().st_size > 5000
    assert "median sinusoid R^2" in result.stdout
    # The learnable wavelet's figure and a missing model, in this process.
    plot_kernels = _tool_module("plot_kernels.py").plot_kernels
    plot_kernels(str(tmp_path / "learnable.keras"), str(tmp_path / "wl"))
    assert (tmp_path / "wl" / "mixer_1_kernels.png").stat().st_size > 5000
    with pytest.raises(FileNotFoundError, match="No model at"):
        plot_kernels(str(tmp_path / "nowhere.keras"), str(tmp_path / "none"))


@once_on("torch", "gpu_run.sh's orchestration (the benchmarks it calls run on every backend "
                  "in their own tests)")
def test_gpu_run_smoke(tmp_path):
    """tools/gpu_run.sh --smoke: tiny sizes on this CPU, no install, torch's
    half (JAX's differs only in how it names the device)."""
    backend = keras.backend.backend()
    result = subprocess.run(
        ["bash", os.path.join(ROOT, "tools", "gpu_run.sh"), "--smoke", str(tmp_path),
         f"--backends={backend}"],
        env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "results.json") as f:
        results = json.load(f)["results"]
    (r,) = results
    assert r["backend"] == backend and r["device"] == "CPU"
    assert set(r["training"]) == {"none", "haar", "learnable"}
    assert all(len(e["curve"]) == 2 for e in r["training"].values())
    assert r["generation"][0]["rows"][0]["vs_gpt2"]["haar"] > 0
    for plot in ("val_loss_vs_step.png", "val_loss_vs_seconds.png"):
        assert (tmp_path / plot).stat().st_size > 5000


def test_gpu_run_stops_without_its_wheels(tmp_path):
    result = subprocess.run(["bash", os.path.join(ROOT, "tools", "gpu_run.sh"), str(tmp_path)],
                            env=dict(os.environ, PYTHON=sys.executable),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Python 3.12" in result.stderr or "no wheels in .whl/" in result.stderr
    assert not os.path.exists(tmp_path / "results.json")


@once_on("torch", "long_runs.sh's job names")
def test_long_runs_names_jobs_and_skips_finished_ones(tmp_path):
    """tools/long_runs.sh maps a job name to its variant, rate and seed, and a
    second call leaves the finished job alone (tiny sizes through the extra
    flags, which come after the job names)."""
    def long_runs(*args):
        return subprocess.run(
            ["bash", os.path.join(ROOT, "tools", "long_runs.sh"), *args],
            env=dict(os.environ, PYTHON=sys.executable, OUT_ROOT=str(tmp_path),
                     RESULTS_ROOT=str(tmp_path / "results"),
                     KERAS_BACKEND=keras.backend.backend()),
            capture_output=True, text=True, timeout=600)

    tiny = ("--preset=tiny", "--steps=2", "--eval_every=1", "--warmup_steps=1",
            "--val_windows=2", "--batch_size=2")
    result = long_runs("shift_s3", *tiny)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "shift_s3" / "summary.json") as f:
        summary = json.load(f)
    assert summary["config"]["seeds"] == [3] and summary["config"]["learning_rate"] == 8e-3
    assert summary["config"]["variants"] == ["shift=haar:max_kernel=2"]
    assert list(summary["variants"]) == ["shift"]
    again = long_runs("shift_s3", *tiny)
    assert again.returncode == 0 and "shift_s3: done already" in again.stdout

    assert not os.path.exists(tmp_path / "results")  # pydocs_long predates records

    # A newer study's job publishes its run record; compare_runs reads it.
    result = long_runs("c512_fine_8e-3_s1", *tiny)
    assert result.returncode == 0, result.stderr[-3000:]
    path = tmp_path / "results" / "context512" / "c512_fine_8e-3_s1.json"
    record = json.loads(path.read_text())
    assert (record["study"], record["name"], record["job"]) == (
        "context512", "c512_fine_8e-3", "c512_fine_8e-3_s1")
    assert record["label"] == "fine" and record["mixer_kwargs"] == {"max_kernel": 4}
    assert record["seed"] == 1 and len(record["curve"]) == 2 and record["steps"] == 2
    assert record["settings"]["learning_rate"] == 8e-3 and record["settings"]["preset"] == "tiny"
    assert len(record["code"]["commit"]) == 40 and len(record["epoch_sec_per_step"]) == 2
    cpuinfo = "/proc/cpuinfo"  # where Linux names its CPU
    if os.path.exists(cpuinfo) and "model name" in open(cpuinfo).read():
        assert record["environment"]["processor"]
    # long_runs.sh asks for huge pages unless its caller chose otherwise.
    tunables = os.environ.get("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
    assert record["environment"]["glibc_tunables"] == tunables
    table = run_tool("compare_runs.py", str(path.parent), "--baseline=c512_fine_8e-3",
                     f"--out={tmp_path / 'r.png'}")
    assert table.returncode == 0, table.stderr[-3000:]
    assert "| c512_fine_8e-3 |" in table.stdout and (tmp_path / "r.png").exists()

    for bad, message in (("shift", "is not VARIANT_s<SEED>"), ("wide_s0", "unknown variant wide")):
        result = long_runs(bad)
        assert result.returncode == 2 and message in result.stderr
        assert result.stderr.count("\n") == 1
    later_bad = long_runs("haar_s4", "wide_s0")  # refused before haar_s4 starts
    assert later_bad.returncode == 2 and not os.path.exists(tmp_path / "haar_s4")
    assert long_runs().returncode == 2
