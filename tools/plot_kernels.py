"""Draw the learned kernels of a trained model to PNG, and test them for tones.

    python tools/plot_kernels.py runs/pydocs_fb/seed_0/filterbank/checkpoint.keras \
        --out_dir=runs/pydocs_fb/kernels

For every `TimeFrequencyFilterbank` in the model: the first-layer analysis
filters of each multi-scale group in time (a grid of the first filters) and
their magnitude responses (every filter, sorted by peak frequency). For every
learnable `CausalWavelet`: the learned kernels per level against the Haar box
they started from. It prints, per filterbank group, how well one sinusoid
explains each analysis filter (`sinusoid_fit`, R^2) next to the same number
for random filters of the same length, and writes it to `kernels.json`.
"""

import os

import numpy as np
from absl import app, flags

from keras_wavegpt.utils.files import save_figure, write_json

flags.DEFINE_string("out_dir", None, "Where the PNGs go (default: next to the model).")
flags.DEFINE_integer("grid", 16, "Filters drawn in the time-domain grid.")
FLAGS = flags.FLAGS


def _filterbank_figures(layer, out_dir, grid):
    import keras
    import matplotlib.pyplot as plt

    from keras_wavegpt.training.metrics import sinusoid_fit

    stats, files = [], []
    for g, (weight, k) in enumerate(zip(layer.analysis, layer.kernel_sizes)):
        # Stored oldest tap first; draw in lag order (lag 0 = current token).
        h = keras.ops.convert_to_numpy(weight)[::-1]
        r2 = sinusoid_fit(h)
        noise = sinusoid_fit(np.random.default_rng(0).normal(size=h.shape))
        stats.append(dict(
            layer=layer.name, group=g, kernel_size=int(k), filters=int(h.shape[1]),
            median_sinusoid_r2=float(np.median(r2)),
            share_above_0_9=float(np.mean(r2 > 0.9)),
            random_median_sinusoid_r2=float(np.median(noise)),
        ))
        spectrum = np.abs(np.fft.rfft(h, n=max(64, 4 * k), axis=0))  # (F, M)
        order = np.argsort(spectrum.argmax(axis=0))
        fig, (ax_t, ax_f) = plt.subplots(1, 2, figsize=(12, 4.5))
        shown = min(grid, h.shape[1])
        for i in range(shown):
            filt = h[:, order[i]]
            ax_t.plot(np.arange(k) + i * (k + 2), filt / (np.abs(filt).max() + 1e-12))
        ax_t.set_title(f"{shown} analysis filters (lag order, each normalised)")
        ax_t.set_xticks([])
        image = ax_f.imshow(
            20 * np.log10(spectrum[:, order] + 1e-6), aspect="auto", origin="lower",
            extent=[0, h.shape[1], 0, 0.5], cmap="magma",
        )
        ax_f.set_xlabel("filter (sorted by peak frequency)")
        ax_f.set_ylabel("frequency (cycles / token)")
        ax_f.set_title(f"magnitude response (dB); median sinusoid R^2 {np.median(r2):.2f}")
        fig.colorbar(image, ax=ax_f)
        fig.suptitle(f"{layer.name} group {g}: kernel length {k}")
        fig.tight_layout()
        path = os.path.join(out_dir, f"{layer.name}_group{g}.png")
        save_figure(fig, path, dpi=110)
        plt.close(fig)
        files.append(path)
    return stats, files


def _wavelet_figure(layer, out_dir):
    import keras
    import matplotlib.pyplot as plt

    from keras_wavegpt.layers import processed_channels

    taps = keras.ops.convert_to_numpy(layer.taps)
    n = processed_channels(layer.channel_kernel_sizes.size, layer.fraction)
    lengths = layer.channel_kernel_sizes[-n:]
    kernels = np.split(taps, np.cumsum(lengths)[:-1])  # lag order per channel
    levels = sorted(set(lengths.tolist()))
    cols = min(len(levels), 5)
    rows = -(-len(levels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, f in zip(axes.flat, levels):
        members = [kern for kern, n in zip(kernels, lengths) if n == f]
        for kern in members:
            ax.plot(kern, color="tab:blue", alpha=0.3)
        ax.plot(np.mean(members, axis=0), color="k", label="mean")
        ax.axhline(1.0 / f, color="tab:red", ls="--", label="Haar 1/f")
        ax.set_title(f"length {f} ({len(members)} channels)")
        ax.set_xlabel("lag")
    for ax in list(axes.flat)[len(levels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{layer.name}: learned kernels per level")
    fig.tight_layout()
    path = os.path.join(out_dir, f"{layer.name}_kernels.png")
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def plot_kernels(model_path, out_dir, grid=16):
    """Draws a trained model's filterbank and learnable-wavelet kernels.

    Args:
        model_path: str. A `.keras` model.
        out_dir: str. Where the figures and `kernels.json` go.
        grid: int. Filters per figure side. Defaults to `16`.

    Returns:
        tuple `(stats, files)`: per-filterbank statistics and the figures'
        paths.

    Raises:
        FileNotFoundError: no model at `model_path`.
        ValueError: the model has nothing to draw.
    """
    import keras

    import keras_wavegpt  # noqa: F401  (registers the layers for loading)
    from keras_wavegpt.layers import CausalWavelet, TimeFrequencyFilterbank

    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"No model at {model_path!r}")
    model = keras.saving.load_model(model_path, compile=False)
    os.makedirs(out_dir, exist_ok=True)
    stats, files = [], []
    # Recursive: a causal LM's mixers sit inside its backbone (and chains).
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, TimeFrequencyFilterbank):
            s, f = _filterbank_figures(layer, out_dir, grid)
            stats += s
            files += f
        elif isinstance(layer, CausalWavelet) and layer.learnable:
            files.append(_wavelet_figure(layer, out_dir))
    if not files:
        raise ValueError(
            f"{model_path!r} has no filterbank or learnable wavelet layer to draw"
        )
    write_json(os.path.join(out_dir, "kernels.json"), stats)
    return stats, files


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("Give one .keras model path")
    out_dir = FLAGS.out_dir or os.path.join(os.path.dirname(argv[1]) or ".", "kernels")
    stats, files = plot_kernels(argv[1], out_dir, FLAGS.grid)
    if stats:
        print("| layer | group | k | filters | median sinusoid R^2 | R^2 > 0.9 "
              "| random filters' median |")
        print("|---|---|---|---|---|---|---|")
        for s in stats:
            print(f"| {s['layer']} | {s['group']} | {s['kernel_size']} | {s['filters']} | "
                  f"{s['median_sinusoid_r2']:.2f} | {100 * s['share_above_0_9']:.0f}% | "
                  f"{s['random_median_sinusoid_r2']:.2f} |")
    for path in files:
        print("wrote", path)


if __name__ == "__main__":
    app.run(main)
