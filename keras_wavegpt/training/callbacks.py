"""Keras callbacks the experiment runner adds to `model.fit`."""

import time

import keras
import numpy as np


class StepTimer(keras.callbacks.Callback):
    """Wall time of every training step (batch begin to batch end).

    `seconds_per_step()` is the median over the steps after the first
    `skip` (which include tracing and compilation).
    """

    def __init__(self, skip=5):
        super().__init__()
        self.skip = skip
        self.durations = []
        self._start = None

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.durations.append(time.perf_counter() - self._start)

    def seconds_per_step(self):
        timed = self.durations[self.skip :] or self.durations
        return float(np.median(timed)) if timed else None


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate to each epoch's logs, so
    CSV and TensorBoard logs show the schedule actually used."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            lr = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
