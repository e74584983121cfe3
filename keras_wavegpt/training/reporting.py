"""Reporting a comparison: its summary, Welch's tests, plots and tables."""

import dataclasses
import os

import keras
import numpy as np

from keras_wavegpt.training import metrics
from keras_wavegpt.utils.files import save_figure, write_json
from keras_wavegpt.utils.validation import check_choice

BASELINE = "none"


def summarize(runs, config, metric_names=()):
    """The summary of one comparison, as `summary.json` holds it.

    Args:
        runs: dict. Variant label -> list of run records (see
            `summarize_runs`).
        config: `TrainConfig`. The comparison's settings.
        metric_names: tuple of str. Metrics besides the loss. Defaults to
            `()`.

    Returns:
        dict with the settings, the backend and the per-variant numbers.
    """
    settings = dataclasses.asdict(config)
    settings["variants"] = list(config.variants)
    settings["seeds"] = list(config.seeds)
    return {"config": settings, "backend": keras.backend.backend(),
            "metrics": list(metric_names), "variants": summarize_runs(runs, metric_names)}


def summarize_runs(runs, metric_names=(), references=(), baseline=BASELINE):
    """Per-variant numbers (`docs/design.md`, "Metrics") from per-seed run records.

    Args:
        runs: dict. Variant label -> list of run records (`"seed"`,
            `"final_val_loss"`, `"steps"`, `"sec_per_step"`, `"curve"`, ...).
            Each record is compared with the baseline's record of the same
            seed; without one, its SPE, speedup and step-time ratio are `None`.
        metric_names: tuple of str. Metrics summarised as `final_val_<name>`
            besides the loss. Defaults to `()`.
        references: tuple of str. Variants, besides the baseline, that every
            other variant's final losses are tested against (Welch's t-test,
            with at least two seeds on both sides). Defaults to `()`.
        baseline: str. The variant every other is paired with by seed (SPE,
            speedup, step-time ratio) and tested against. Defaults to
            `"none"`.

    Returns:
        dict. Variant label -> mean (and std over seeds) of every number, the
        seed-mean curve, `"welch"` (`{reference: metrics.welch_comparison}`:
        t, p, the difference with its 95% interval, the detectable
        difference) and the records as `"runs"`.
    """
    base = {r["seed"]: r for r in runs.get(baseline, ())}
    variants = {}
    for variant, records in runs.items():
        for record in records:
            paired = base.get(record["seed"])
            if paired:
                record["spe"] = metrics.same_performance_step(record["curve"],
                                                              paired["final_val_loss"])
                record["speedup"] = metrics.speedup(record["spe"], paired["steps"])
                record["rel_step_time"] = _ratio(record["sec_per_step"], paired["sec_per_step"])
            else:
                record["spe"] = record["speedup"] = record["rel_step_time"] = None
        entry = {"params": records[0]["params"], "steps": records[0]["steps"],
                 "seeds": len(records), "learning_rate": _learning_rates(records)}
        for key in ("final_val_loss", "final_val_bpc", "sec_per_step", "spe",
                    "speedup", "rel_step_time", *[f"final_val_{m}" for m in metric_names]):
            mean, std = metrics.mean_std([r[key] for r in records])
            entry[key] = mean
            if len(records) > 1:
                entry[f"{key}_std"] = std
        if len(records) > 1:
            entry["spe_reached"] = sum(r["spe"] is not None for r in records)
        entry["welch"] = {}
        for reference in dict.fromkeys((baseline, *references)):
            if reference == variant or reference not in runs:
                continue
            test = metrics.welch_comparison([r["final_val_loss"] for r in records],
                                            [r["final_val_loss"] for r in runs[reference]])
            if test is not None:
                entry["welch"][reference] = test
        entry["curve"] = _mean_curve([r["curve"] for r in records])
        entry["runs"] = records
        variants[variant] = entry
    return variants


def _learning_rates(records):
    """The runs' peak learning rate (a record's own, else its settings');
    a list where seeds differ, `None` where no record says."""
    rates = list(dict.fromkeys(
        r.get("learning_rate", r.get("settings", {}).get("learning_rate")) for r in records))
    return rates[0] if len(rates) == 1 else rates


def _ratio(a, b):
    return None if a is None or not b else a / b


def _mean_curve(curves):
    steps = [s for s, _ in curves[0]]
    losses = np.mean([[v for _, v in c] for c in curves], axis=0)
    return [[s, float(v)] for s, v in zip(steps, losses)]


def write_summary(summary, out_dir):
    """Writes a summary and its plots into a folder.

    Each file is written whole, then renamed: `summary.json` and the
    validation loss against steps (`val_loss.png`) and against seconds
    (`val_loss_seconds.png`).

    Args:
        summary: dict. From `summarize` or `summarize_runs`.
        out_dir: str. The folder, created if missing.
    """
    write_json(os.path.join(out_dir, "summary.json"), summary)
    plot_curves(summary["variants"], os.path.join(out_dir, "val_loss.png"))
    plot_curves(summary["variants"], os.path.join(out_dir, "val_loss_seconds.png"), x="seconds")


def plot_curves(variants, path, title=None, x="step", baseline=BASELINE):
    """Validation loss (seed mean) of every variant, with the baseline's final
    loss as a dashed line and each variant's same-performance step marked.

    Args:
        variants: dict. `summary["variants"]`.
        path: str. The PNG to write.
        title: str or `None`. Defaults to `None` (a title that says what the
            markers are).
        x: str. `"step"`, or `"seconds"`: each step times the variant's
            median step time in its own runs, so a slower variant's curve
            stretches to the right. Defaults to `"step"`.
        baseline: str. The variant whose final loss is the dashed line.
            Defaults to `"none"`.
    """
    check_choice("x", x, ("step", "seconds"))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, entry in variants.items():
        scale = entry["sec_per_step"] if x == "seconds" else 1
        steps, losses = zip(*entry["curve"])
        (line,) = ax.plot([s * scale for s in steps], losses, marker=".",
                          label=f"{label} ({entry['params']:,} params)")
        if entry.get("spe") is not None and label != baseline:
            ax.axvline(entry["spe"] * scale, color=line.get_color(), linestyle=":", linewidth=1)
    for label, entry in variants.items():
        if label == baseline:
            ax.axhline(entry["final_val_loss"], color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel("training step" if x == "step" else
                  "seconds (step x the variant's median step time in its runs)")
    ax.set_ylabel("validation loss (nats / token)")
    ax.set_title(title or "Validation loss (dotted: same-performance step)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def format_table(variants, metric_names=()):
    """A Markdown table of a summary's headline numbers.

    It has a column per name in `metric_names`, a seed count where some
    variant has several, and Welch's p against every reference tested.

    Args:
        variants: dict. `summary["variants"]`.
        metric_names: tuple of str. Metrics shown besides the loss. Defaults
            to `()`.

    Returns:
        str, the table's lines.
    """
    seeded = any(v.get("seeds", 1) > 1 for v in variants.values())
    references = list(dict.fromkeys(r for v in variants.values() for r in v.get("welch", {})))
    head = ("| variant | params | peak rate |" + " seeds |" * seeded + " val loss | val bpc |"
            + "".join(f" val {m} |" for m in metric_names) + " SPE | speedup | step time* |"
            + "".join(f" vs {r} |" for r in references))
    rows = [head, "|" + "---|" * head.count(" |")]
    for name, v in variants.items():
        spe = "-" if v["spe"] is None else f"{v['spe']:.0f}"
        cells = "".join(
            f" {_fmt(v[f'final_val_{m}'], v.get(f'final_val_{m}_std'))} |" for m in metric_names
        )
        tests = "".join(
            f" {_welch(v.get('welch', {}).get(r))} |" for r in references
        )
        rows.append(
            f"| {name} | {v['params']:,} | {_rate(v.get('learning_rate'))} |"
            + f" {v.get('seeds', 1)} |" * seeded
            + f" {_fmt(v['final_val_loss'], v.get('final_val_loss_std'))} "
            f"| {_fmt(v['final_val_bpc'])} |{cells} {spe} | "
            f"{_fmt(v['speedup'], v.get('speedup_std'), 2)} | {_fmt(v['rel_step_time'], None, 2)}x |"
            + tests
        )
    rows.append("\n* this run's step time over the baseline's, on a machine that may have been "
                "shared with other work; side-by-side ratios: docs/benchmarks.md")
    if references:
        # A pair tested both ways (none vs shift, shift vs none) is one test.
        tests = len({frozenset((name, r)) for name, v in variants.items()
                     for r in v.get("welch", {})})
        rows.append(
            f"vs X: mean final loss minus X's [95% interval], Welch's two-sided p, and ±d: the "
            f"smallest difference these seeds could detect at p < 0.05. {tests} "
            f"test{'s' if tests != 1 else ''} in this table: with many tests, read "
            "0.01 < p < 0.05 as suggestive.")
    return "\n".join(rows)


def _rate(rate):
    if isinstance(rate, list):
        return ", ".join(_rate(r) for r in rate)
    return "-" if rate is None else f"{rate:g}"


def _welch(test):
    if test is None:
        return "-"
    return (f"{test['diff']:+.4f} [{test['low']:+.4f}, {test['high']:+.4f}] "
            f"p {test['p']:.2g} ±d {test['detectable']:.4f}")


def _fmt(x, std=None, digits=4):
    if x is None:
        return "-"
    return f"{x:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")
