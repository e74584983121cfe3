"""Training: the shared experiment runner, callbacks and metrics."""

from keras_wavegpt.training.callbacks import LearningRateLogger, StepTimer, TrainingBackup
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
from keras_wavegpt.training.runner import (
    TrainConfig,
    compare_language_models,
    format_table,
    parse_kwargs,
    parse_variant,
    plot_curves,
    run_comparison,
    summarize,
    train_variant,
)
