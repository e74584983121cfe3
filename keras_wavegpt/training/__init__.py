"""Training: the shared experiment runner, callbacks and metrics.

The runner is four modules: `settings` (`TrainConfig`, variant specs),
`fit` (one run), `comparison` (every variant and seed side by side) and
`reporting` (summaries, Welch's tests, plots, tables).
"""

from keras_wavegpt.training.callbacks import (
    LearningRateLogger,
    StepTimer,
    TrainingBackup,
    load_checkpoint,
)
from keras_wavegpt.training.meta import (
    META_OBJECTIVES,
    MetaOptimizer,
    MetaParameterLogger,
    meta_optimizer_for,
)
from keras_wavegpt.training.metrics import (
    bits_per_char,
    same_performance_step,
    sinusoid_fit,
    speedup,
    welch_test,
)
from keras_wavegpt.training.comparison import compare_language_models, run_comparison
from keras_wavegpt.training.fit import train_variant
from keras_wavegpt.training.reporting import format_table, plot_curves, summarize
from keras_wavegpt.training.settings import TrainConfig, parse_kwargs, parse_variant
