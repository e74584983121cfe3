"""Training: the shared experiment runner, callbacks and metrics."""

from keras_wavegpt.training.metrics import (
    bits_per_char,
    same_performance_step,
    sinusoid_fit,
    speedup,
    welch_test,
)
from keras_wavegpt.training.runner import (
    TrainConfig,
    format_table,
    parse_kwargs,
    plot_curves,
    run_comparison,
    summarize,
    train_variant,
)
