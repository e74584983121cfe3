"""Data parallelism on the engines that already exist.

JAX: `keras.distribution.DataParallel` over every device Keras sees
(weights replicated, each batch split along its first axis, gradients
all-reduced by XLA). TensorFlow: `tf.distribute.MirroredStrategy` over the
GPUs, or the CPUs when there are none. PyTorch has no single-process path in
Keras (its data parallelism is one process per device, launched by
`torchrun`), so it is refused with a message saying so.

On a CPU-only machine, `virtual_cpu_devices(n)` splits the CPU into `n`
devices (for tests and for checking a setup before it goes to a GPU host).
"""

import contextlib

import keras

from keras_wavegpt.utils.imports import tensorflow
from keras_wavegpt.utils.validation import check_int


def virtual_cpu_devices(count):
    """Make the CPU appear as `count` devices to the current backend.

    Call before the backend runs any computation (at the top of a script).
    JAX: the `jax_num_cpu_devices` option; TensorFlow: logical CPU devices.

    Args:
        count: int. The number of devices.

    Raises:
        ValueError: the backend is PyTorch.
        RuntimeError: the backend already set up its devices.
    """
    check_int("count", count)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        jax.config.update("jax_num_cpu_devices", count)
        found = len(jax.devices("cpu"))
    elif backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * count
            )
        except RuntimeError as err:
            raise RuntimeError(
                "virtual_cpu_devices must run before TensorFlow runs anything "
                f"(it has already set up its devices): {err}"
            ) from err
        found = len(tf.config.list_logical_devices("CPU"))
    else:
        raise ValueError(f"virtual CPU devices need JAX or TensorFlow, not {backend!r}")
    if found != count:
        raise RuntimeError(
            f"Asked for {count} virtual CPU devices but {backend} has {found}: call "
            "virtual_cpu_devices before the backend runs anything."
        )


def initialize_processes(coordinator_address, num_processes, process_id,
                         timeout_seconds=120):
    """Joins a multi-process JAX job (one process per host, or several on one).

    Every process calls this before the backend runs anything. Afterwards
    `keras.distribution.list_devices()` lists every process's devices and
    `data_parallel` splits each global batch over all of them.

    Args:
        coordinator_address: str. `host:port` of process 0, the same in
            every process.
        num_processes: int. The number of processes, at least 2, the same in
            every process.
        process_id: int. This process's place, `0 <= process_id <
            num_processes`.
        timeout_seconds: int. How long to wait for the coordinator. Defaults
            to `120`.

    Raises:
        ValueError: the backend is not JAX, or the arguments disagree with
            each other or with the job.
        RuntimeError: the coordinator does not answer within
            `timeout_seconds` (a wrong address, or process 0 not started).
    """
    check_int("num_processes", num_processes, minimum=2)
    check_processes(coordinator_address, num_processes, process_id)
    import jax

    if jax.distributed.is_initialized():  # a second comparison in the same processes
        return
    if process_id > 0:
        # JAX ends the whole process (no exception) when its client cannot
        # reach the coordinator, so find out first whether anyone listens.
        _wait_for_coordinator(coordinator_address, process_id, num_processes,
                              timeout_seconds)
    # CPU devices talk to other processes through gloo; GPUs use NCCL.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id,
                                   initialization_timeout=timeout_seconds)
    except RuntimeError as error:
        if "must be called before" in str(error):
            raise RuntimeError(
                "initialize_processes must run before JAX computes anything in this "
                f"process (the runner calls it first): {error}"
            ) from error
        raise RuntimeError(
            f"Process {process_id} of {num_processes} could not join the job at "
            f"{coordinator_address} within {timeout_seconds} s: check the address, that "
            "process 0 is running, and that every process has the same --num_processes "
            f"and its own --process_id ({error})"
        ) from error
    if jax.process_count() != num_processes:
        raise ValueError(
            f"This process was started with `num_processes`={num_processes}, but the job "
            f"at {coordinator_address} has {jax.process_count()} processes: start every "
            "process with the same --num_processes"
        )


def check_processes(coordinator_address, num_processes, process_id):
    """Checks that the settings describe this process's place in a job.

    One process always qualifies; several need JAX, a `host:port` address
    and `process_id < num_processes`.

    Args:
        coordinator_address: str or `None`. `host:port` of process 0.
        num_processes: int. The number of processes.
        process_id: int. This process's place.

    Raises:
        TypeError: a count is not an integer.
        ValueError: the settings are inconsistent or the backend is not JAX.
    """
    check_int("num_processes", num_processes)
    check_int("process_id", process_id, minimum=0)
    if num_processes == 1:
        return
    if keras.backend.backend() != "jax":
        raise ValueError(
            f"multi-process data parallel runs on JAX, not {keras.backend.backend()!r}; "
            "for PyTorch, launch one process per GPU with torchrun and "
            "torch.nn.parallel.DistributedDataParallel (docs/experiments.md)"
        )
    if process_id >= num_processes:
        raise ValueError(
            f"`process_id`={process_id} must be below `num_processes`={num_processes}"
        )
    if not isinstance(coordinator_address, str) or ":" not in coordinator_address:
        raise ValueError(
            "`coordinator_address` must be host:port of process 0, got "
            f"{coordinator_address!r}"
        )


def _wait_for_coordinator(address, process_id, num_processes, timeout_seconds):
    """Return once a TCP connection to `address` succeeds; `RuntimeError`
    after `timeout_seconds` of refusals."""
    import socket
    import time

    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=5):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Process {process_id} of {num_processes} could not join the job at "
                    f"{address} within {timeout_seconds} s: nothing listens there. Start "
                    "process 0 (which hosts the coordinator) with the same "
                    "--coordinator_address and --num_processes, and give each process "
                    f"its own --process_id ({error})"
                ) from error
            time.sleep(0.5)


def process_shard(dataset, process_id, num_processes):
    """This process's rows of every batch of a dataset.

    Each tensor of a batch is cut into `num_processes` equal slices along
    its first axis and this process keeps the `process_id`-th, so the
    processes together see exactly the global batch.

    Args:
        dataset: `tf.data.Dataset` of batches (tuples of tensors or of
            dicts of tensors, as a causal LM's `({"token_ids", ...}, y)`).
        process_id: int. This process's place.
        num_processes: int. The number of processes.

    Returns:
        `tf.data.Dataset`; `dataset` itself for one process.
    """
    if num_processes == 1:
        return dataset
    tf = tensorflow()

    def rows(t):
        size = tf.shape(t)[0] // num_processes
        return t[process_id * size:(process_id + 1) * size]

    return dataset.map(lambda *batch: tf.nest.map_structure(rows, batch))


@contextlib.contextmanager
def data_parallel(batch_size):
    """A context that splits every batch over all devices.

    Build, compile and fit inside it: JAX uses
    `keras.distribution.DataParallel`, TensorFlow `MirroredStrategy`.

    Args:
        batch_size: int. The global batch size, a multiple of the number of
            devices.

    Yields:
        int, the number of devices (replicas).

    Raises:
        ValueError: the backend is PyTorch, there are fewer than two
            devices, or `batch_size` does not split evenly.
    """
    check_data_parallel_backend()
    if keras.backend.backend() == "jax":
        devices = keras.distribution.list_devices()
        _check_split(len(devices), batch_size)
        previous = keras.distribution.distribution()
        # Across processes each one feeds its own rows (`process_shard`).
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=False))
        try:
            yield len(devices)
        finally:
            keras.distribution.set_distribution(previous)
    else:  # TensorFlow
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        _check_split(len(devices), batch_size)
        strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
        with strategy.scope():
            yield strategy.num_replicas_in_sync


def check_data_parallel_backend():
    """Raise `ValueError` unless the backend has a data-parallel path here."""
    backend = keras.backend.backend()
    if backend not in ("jax", "tensorflow"):
        raise ValueError(
            f"data_parallel runs on JAX (keras.distribution.DataParallel) or TensorFlow "
            f"(tf.distribute.MirroredStrategy); the {backend!r} backend has no "
            "single-process path. For PyTorch, launch one process per GPU with torchrun "
            "and torch.nn.parallel.DistributedDataParallel."
        )


def _check_split(devices, batch_size):
    if devices < 2:
        raise ValueError(
            f"data_parallel found {devices} device; it needs at least 2 (on a CPU, "
            "call virtual_cpu_devices(2) or pass --virtual_cpu_devices=2 first)"
        )
    if batch_size % devices:
        raise ValueError(
            f"`batch_size`={batch_size} does not split evenly over {devices} devices"
        )


def gpt_layout_map(device_mesh, model_axis="model"):
    """Tensor parallelism (Megatron-style) for `build_gpt`'s weights.

    Attention heads, the feed-forward and head hidden units, and the token
    embedding's width are split; norms, biases of the output projections,
    position embeddings and the mixers' weights are replicated.

        mesh = keras.distribution.DeviceMesh((2, 4), ["batch", "model"],
                                             keras.distribution.list_devices())
        keras.distribution.set_distribution(keras.distribution.ModelParallel(
            layout_map=gpt_layout_map(mesh), batch_dim_name="batch"))
        model = build_gpt(...)  # then compile and fit as usual

    `keras.distribution` runs model parallelism on JAX.

    Args:
        device_mesh: `keras.distribution.DeviceMesh`.
        model_axis: str. The mesh axis the weights are split over. Defaults
            to `"model"`.

    Returns:
        A `keras.distribution.LayoutMap`.
    """
    m = model_axis
    layout = keras.distribution.LayoutMap(device_mesh)  # keys: regexes on whole paths
    layout["(.*/)?token_embedding/embeddings"] = (None, m)
    layout["(.*/)?self_attention/(query|key|value)/kernel"] = (None, m, None)
    layout["(.*/)?self_attention/(query|key|value)/bias"] = (m, None)
    layout["(.*/)?self_attention/attention_output/kernel"] = (m, None, None)
    layout["(.*/)?feedforward_intermediate_dense/kernel"] = (None, m)
    layout["(.*/)?feedforward_intermediate_dense/bias"] = (m,)
    layout["(.*/)?feedforward_output_dense/kernel"] = (m, None)
    layout["(.*/)?head/kernel"] = (None, m)
    layout["(.*/)?head/bias"] = (m,)
    layout["(.*/)?logits/kernel"] = (m, None)
    return layout
