"""A hyperparameter kept in a range, optionally meta-learned.

The multirate blocks (`MultirateDecomposition`, `LFORouting`,
`ChannelBottleneck`) hold their hyperparameters as `BoundedParameter`s. With
`adaptive=True` the optimizer of the model leaves them alone and
`keras_wavegpt.training.MetaOptimizer` moves them every `meta_update_every`
steps (see `docs/design.md`, "Multirate blocks").
"""

import math

import keras
from keras import ops

from keras_wavegpt.utils.validation import check_number

_META_TAG = "_keras_wavegpt_meta_parameter"


def is_meta_parameter(variable):
    """Whether `variable` is the logit of an adaptive `BoundedParameter`.

    Args:
        variable: `keras.Variable`.

    Returns:
        bool.
    """
    return bool(getattr(variable, _META_TAG, False))


def meta_parameters(model):
    """Every adaptive bounded parameter in a model, by its logit's path.

    Args:
        model: `keras.Model` or `keras.layers.Layer`. Searched recursively.

    Returns:
        dict mapping each logit's variable path to its `BoundedParameter`.
    """
    return {
        layer.logit.path: layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, BoundedParameter) and layer.adaptive
    }




@keras.saving.register_keras_serializable(package="keras_wavegpt")
class BoundedParameter(keras.layers.Layer):
    """A scalar hyperparameter kept in `[lo, hi]`: `p = lo + (hi - lo) * sigmoid(z)`.

    The weight is the logit `z`, initialised so that `p = initial_value`.
    With `adaptive=False` it is not trainable (a fixed hyperparameter); with
    `adaptive=True` it is trainable and tagged as a meta-parameter
    (`is_meta_parameter(layer.logit)`), so `MetaOptimizer` takes it away from
    the model's optimizer. The parent layer builds it (`build()` takes no
    shape) and reads `value` in its `call`.

    Args:
        lo: float. Lower bound.
        hi: float. Upper bound, `> lo`.
        initial_value: float. Starting value, strictly inside `(lo, hi)`.
        adaptive: bool. Make it a meta-parameter (trainable, and moved by
            `MetaOptimizer` only). Defaults to `False`.
        **kwargs: standard layer arguments (`name`, ...).

    Example:

    >>> p = BoundedParameter(0.2, 0.6, 0.4, name="mix_ratio")
    >>> p.build()
    >>> round(float(p.value), 6)
    0.4

    References:
        adaptive-multirate-transformers README, "Adaptive Hyperparameter
        Learning: Parameterization".
    """

    def __init__(self, lo, hi, initial_value, adaptive=False, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        for arg, value in (("lo", lo), ("hi", hi), ("initial_value", initial_value)):
            check_number(arg, value)
        if not lo < hi:
            raise ValueError(f"Bounded parameter {self.name!r} needs lo < hi, got [{lo}, {hi}]")
        if not lo < initial_value < hi:
            raise ValueError(
                f"`initial_value` of {self.name!r} must lie strictly inside "
                f"({lo}, {hi}), got {initial_value}"
            )
        self.lo, self.hi = float(lo), float(hi)
        self.initial_value = float(initial_value)
        self.adaptive = bool(adaptive)

    def build(self, input_shape=None):
        fraction = (self.initial_value - self.lo) / (self.hi - self.lo)
        self.logit = self.add_weight(
            name="logit",
            shape=(),
            initializer=keras.initializers.Constant(math.log(fraction / (1.0 - fraction))),
            trainable=self.adaptive,
            dtype="float32",
            autocast=False,  # read in float32 inside a mixed-precision parent
        )
        setattr(self.logit, _META_TAG, self.adaptive)

    @property
    def value(self):
        """The current value, a float32 scalar tensor in `[lo, hi]`."""
        # The clip only catches float32 round-off when the sigmoid saturates.
        value = self.lo + (self.hi - self.lo) * ops.sigmoid(self.logit)
        return ops.clip(value, self.lo, self.hi)

    def get_config(self):
        config = super().get_config()
        config.update(
            lo=self.lo, hi=self.hi, initial_value=self.initial_value, adaptive=self.adaptive
        )
        return config
