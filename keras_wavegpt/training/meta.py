"""Adaptive DSP hyperparameters inside `model.fit`: a meta-optimizer and its logger.

Every adaptive `BoundedParameter` logit `z` is a meta-parameter. `MetaOptimizer`
wraps the model's optimizer: it updates the model's weights every step as
usual, and keeps the meta-parameters to itself: it tracks an exponential
moving average of their gradients and, every `N = meta_update_every` steps,
moves them with a second Adam (learning rate 1e-4) along the gradient of the
meta objective. Works on TensorFlow, JAX and PyTorch (it is an optimizer, so
no training loop changes) and under `LossScaleOptimizer`.
"""

import keras
from keras import ops

from keras_wavegpt.layers.bounded_parameter import is_meta_parameter, meta_parameters
from keras_wavegpt.utils.validation import check_choice, check_int, check_number

META_OBJECTIVES = ("smoothed_loss", "convergence_rate", "composite")


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MetaOptimizer(keras.optimizers.Optimizer):
    """The model's optimizer for ordinary weights, a meta Adam for meta-parameters.

    With `g_t` the gradient of the training loss at step `t` w.r.t. a
    meta-parameter and `d = ema_decay`, every step updates

        G_t = d G_{t-1} + (1 - d) g_t

    which is the gradient of the smoothed loss `L^_t = d L^_{t-1} + (1 - d) L_t`
    (each loss differentiated at the step it was measured). At every
    `N`-th step the meta Adam takes one step along the gradient of
    `meta_objective`, with `K = N` and `G_prev` the value of `G` at the
    previous meta update (zero before the first):

        smoothed_loss      L_meta = L^_t                    grad = G_t
        convergence_rate   L_meta = -r,  r = (L^_{t-K} - L^_t) / K
                                                            grad = (G_t - G_prev) / K
        composite          L_meta = 0.7 L^_t - 0.3 r        grad = 0.7 G_t + 0.3 (G_t - G_prev) / K

    Between meta updates the meta-parameters do not move. `r` is the rate at
    which the smoothed loss falls (positive while training converges).

    Args:
        optimizer: `keras.optimizers.Optimizer` or dict. The model's
            optimizer (e.g. `keras.optimizers.Adam(3e-4)`), or its
            serialized config.
        meta_learning_rate: float. The meta Adam's learning rate. Defaults
            to `1e-4`.
        meta_update_every: int. `N`, steps between meta updates. Defaults
            to `100`.
        meta_objective: str. One of `META_OBJECTIVES`. Defaults to
            `"smoothed_loss"`.
        ema_decay: float. `d`, in `[0, 1)`. Defaults to `0.9`.
        name: str or `None`. The optimizer's name. Defaults to `None`.

    Example:

    >>> from keras_wavegpt.models import build_gpt, gpt_preset
    >>> model = build_gpt(27, mixer="multirate", adaptive=True, **gpt_preset("tiny"))
    >>> optimizer = MetaOptimizer(keras.optimizers.Adam(3e-4), meta_update_every=10)
    >>> model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(
    ...     from_logits=True))
    >>> len(meta_parameters(model))  # 2 blocks x 3 slots x 2 hyperparameters
    12

    References:
        adaptive-multirate-transformers README, "Adaptive Hyperparameter
        Learning" (meta objective, update rule, configuration example).
    """

    def __init__(
        self,
        optimizer,
        meta_learning_rate=1e-4,
        meta_update_every=100,
        meta_objective="smoothed_loss",
        ema_decay=0.9,
        name=None,
        **kwargs,
    ):
        if kwargs:
            raise ValueError(
                f"MetaOptimizer does not take {sorted(kwargs)}; set them on the "
                "wrapped optimizer"
            )
        if isinstance(optimizer, dict):
            optimizer = keras.saving.deserialize_keras_object(optimizer)
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TypeError(f"`optimizer` must be a keras optimizer, got {optimizer!r}")
        check_choice("meta_objective", meta_objective, META_OBJECTIVES)
        check_int("meta_update_every", meta_update_every)
        check_number("ema_decay", ema_decay, 0.0, 1.0, high_open=True)
        check_number("meta_learning_rate", meta_learning_rate, 0.0, low_open=True)
        super().__init__(learning_rate=0.0, name=name)
        self.optimizer = optimizer
        self.meta_learning_rate = float(meta_learning_rate)
        self.meta_update_every = meta_update_every
        self.meta_objective = meta_objective
        self.ema_decay = float(ema_decay)
        # Keras' own gradient accumulation makes the meta Adam step only every
        # N-th call (on every backend, including JAX's stateless training).
        self.meta_optimizer = keras.optimizers.Adam(
            self.meta_learning_rate,
            gradient_accumulation_steps=meta_update_every if meta_update_every > 1 else None,
            name="meta_adam",
        )

    def build(self, var_list):
        self._meta_index = [i for i, v in enumerate(var_list) if is_meta_parameter(v)]
        meta = [var_list[i] for i in self._meta_index]
        model = [v for v in var_list if not is_meta_parameter(v)]
        self.optimizer.build(model)
        self.meta_optimizer.build(meta)
        self._gradient_ema = [
            self.add_variable_from_reference(v, name="meta_gradient_ema") for v in meta
        ]
        self._previous_ema = [
            self.add_variable_from_reference(v, name="meta_gradient_previous") for v in meta
        ]
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.optimizer.variables + self.meta_optimizer.variables

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            if trainable_variables is None:
                raise ValueError("MetaOptimizer.apply needs `trainable_variables` until built")
            self.build(list(trainable_variables))
        variables = list(trainable_variables or self._trainable_variables)
        meta = set(self._meta_index)
        self.optimizer.apply(
            [g for i, g in enumerate(grads) if i not in meta],
            [v for i, v in enumerate(variables) if i not in meta],
        )
        if self._meta_index:
            self._meta_step(
                [grads[i] for i in self._meta_index], [variables[i] for i in self._meta_index]
            )
        self._iterations.assign_add(1)

    def _meta_step(self, grads, variables):
        n = self.meta_update_every
        is_update = ops.equal((self._iterations + 1) % n, 0)
        directions = []
        for g, v, ema, previous in zip(grads, variables, self._gradient_ema, self._previous_ema):
            g = ops.zeros_like(v) if g is None else ops.cast(g, ema.dtype)
            new = self.ema_decay * ema.value + (1.0 - self.ema_decay) * g
            ema.assign(new)
            previous_value = previous.value
            if self.meta_objective == "smoothed_loss":
                direction = new
            elif self.meta_objective == "convergence_rate":
                direction = (new - previous_value) / n
            else:
                direction = 0.7 * new + 0.3 * (new - previous_value) / n
            previous.assign(ops.where(is_update, new, previous_value))
            # The accumulating meta Adam steps along the mean of what it was
            # fed over the window: feed N * direction on the update step only.
            directions.append(ops.where(is_update, direction * n, ops.zeros_like(direction)))
        self.meta_optimizer.apply(directions, variables)

    @property
    def learning_rate(self):
        return self.optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.optimizer.iterations

    def finalize_variable_values(self, var_list):
        self.optimizer.finalize_variable_values(
            [v for v in var_list if not is_meta_parameter(v)]
        )

    def get_config(self):
        return {
            "name": self.name,
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "meta_learning_rate": self.meta_learning_rate,
            "meta_update_every": self.meta_update_every,
            "meta_objective": self.meta_objective,
            "ema_decay": self.ema_decay,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.saving.deserialize_keras_object(
            config["optimizer"], custom_objects=custom_objects
        )
        return cls(**config)


def meta_optimizer_for(model, optimizer, **meta_kwargs):
    """The optimizer a model needs: a `MetaOptimizer` if it has adaptive
    hyperparameters.

    Args:
        model: `keras.Model`.
        optimizer: `keras.optimizers.Optimizer`. The optimizer of the
            ordinary weights.
        **meta_kwargs: `MetaOptimizer` arguments.

    Returns:
        `MetaOptimizer(optimizer, **meta_kwargs)` if `model` has adaptive
        bounded parameters, else `optimizer` unchanged.
    """
    if meta_parameters(model):
        return MetaOptimizer(optimizer, **meta_kwargs)
    return optimizer


def _unwrap(optimizer):
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer


class MetaParameterLogger(keras.callbacks.Callback):
    """Adds every adaptive hyperparameter's value to each epoch's logs.

    Keys are `meta/<path>` (e.g. `meta/block_1/multirate/mix_ratio`), so
    `CSVLogger` and `TensorBoard` placed after this callback record them. At
    the start of training it refuses a model with meta-parameters whose
    optimizer is not a `MetaOptimizer` (its optimizer would train them every
    step as ordinary weights).
    """

    def on_train_begin(self, logs=None):
        self._parameters = meta_parameters(self.model)
        if self._parameters and not isinstance(_unwrap(self.model.optimizer), MetaOptimizer):
            raise ValueError(
                f"The model has {len(self._parameters)} adaptive hyperparameters "
                f"(e.g. {next(iter(self._parameters))}) but its optimizer is "
                f"{type(self.model.optimizer).__name__}; compile it with "
                "keras_wavegpt.training.MetaOptimizer(<optimizer>)"
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for path, parameter in self._parameters.items():
            key = "meta/" + path.rsplit("/logit", 1)[0]
            logs[key] = float(ops.convert_to_numpy(parameter.value))
