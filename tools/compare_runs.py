"""Merge several experiment `out_dir`s into one table and one plot.

    python tools/compare_runs.py runs/a runs/b --out=runs/compare.png

Each variant is labelled `<out_dir name>/<variant>`; the table is Markdown.
"""

import json
import os

from absl import app, flags

from keras_wavegpt.training.runner import format_table, plot_curves

flags.DEFINE_string("out", "compare.png", "Where the merged plot goes.")
FLAGS = flags.FLAGS


def merge(out_dirs):
    """`{"<dir>/<variant>": entry}` from each dir's summary.json."""
    merged = {}
    for d in out_dirs:
        path = os.path.join(d, "summary.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No summary.json in {d!r}; run an experiment there first")
        with open(path) as f:
            summary = json.load(f)
        label = os.path.basename(os.path.normpath(d))
        for variant, entry in summary["variants"].items():
            merged[f"{label}/{variant}"] = entry
    return merged


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("Name at least one experiment out_dir")
    merged = merge(argv[1:])
    print(format_table(merged))
    plot_curves(merged, FLAGS.out, title="Validation loss across runs")
    print(f"plot: {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
