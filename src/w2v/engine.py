"""Engines: what trains a batch of chunks on the model's weights.  The trainer (schedule, chunk plan, threads,
checkpoints, log) is the same for every engine.

- ``numba`` (:class:`NumbaEngine`): the Numba kernels of :mod:`w2v.kernels` on the host's weights, one
  chunk per call, every thread of the pass calling it at once (Hogwild).  The default on the CPU.
- ``torch`` (:class:`w2v.torch_engine.TorchEngine`): the same training in minibatch steps with PyTorch, on a
  GPU (``device="cuda"``) or on the CPU (how the tests exercise it).  The default on CUDA; needs the
  ``torch`` extra.

The device and the backend are run-time choices, not part of the model: they are not saved in the model file,
and a training checkpointed with one may resume with another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .config import LOSSES
from .errors import ConfigError, DeviceError

BACKENDS = ("numba", "torch")
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


@dataclass
class Batch:
    """Consecutive chunks of the encoded corpus, handed to an engine in one call.

    ``ids`` int32[n]: their tokens; ``sentence_ends`` int64[s]: sentence end offsets in ``ids``;
    ``chunk_sentences`` int64[G + 1]: chunk ``g`` is sentences ``chunk_sentences[g] .. [g + 1] - 1``;
    ``lrs`` float64[G] the learning rate of each chunk; ``seeds`` uint64[G] each chunk's random stream.
    """

    ids: np.ndarray
    sentence_ends: np.ndarray
    chunk_sentences: np.ndarray
    lrs: np.ndarray
    seeds: np.ndarray


class Engine(Protocol):
    """Trains batches on weights it holds (on its device); ``pull`` copies them back to the host arrays."""

    name: str
    chunks_per_call: int   # chunks the trainer hands over per call
    threads: int           # worker threads of a pass calling ``train`` at once

    def train(self, batch: Batch) -> tuple[float, int, int, int]:
        """Train ``batch``; returns (loss sum, examples, in-vocabulary tokens visited, tokens kept)."""
        ...

    def pull(self) -> None:
        """Make the host weights current (before a checkpoint and at the end of training)."""
        ...

    def finite(self) -> bool:
        """Whether every weight is finite (checked where the weights are: no copy from a device)."""
        ...

    def close(self) -> None:
        ...


def resolve(device: str = "cpu", backend: str | None = None) -> tuple[str, str]:
    """Check ``device`` and ``backend``; returns them with the default backend filled in.

    Raises
    ------
    ConfigError
        A malformed device, an unknown backend, or numba with cuda.
    """
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ConfigError(f"'device' must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}")
    if backend is None:
        backend = "numba" if device == "cpu" else "torch"
    if backend not in BACKENDS:
        raise ConfigError(f"'backend' must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    if backend == "numba" and device != "cpu":
        raise ConfigError(f"the numba backend runs on the CPU only; for device {device!r} use backend 'torch' "
                          "(the default there)")
    return device, backend


LOSSES_OF = {"numba": LOSSES, "torch": ("ns",)}  # the losses each backend implements


def check_loss(loss: str, device: str, backend: str, resumed: str | None = None) -> None:
    """Refuse a loss the backend does not implement (the torch engine has negative sampling only);
    ``resumed``, the checkpoint whose loss it is (which cannot change when resuming).

    Raises
    ------
    ConfigError
        Naming the loss, the backend and what to use instead.
    """
    device, backend = resolve(device, backend)
    if loss not in LOSSES_OF[backend]:
        if resumed is not None:
            raise ConfigError(f"the checkpoint {resumed!r} trains with 'loss' {loss!r}, which the {backend} engine "
                              "does not implement (the Numba kernels only), and the loss cannot change when "
                              "resuming: resume with 'backend' 'numba' on the CPU (the default)")
        if device != "cpu":
            instead = "train it on the CPU ('device' 'cpu' with 'backend' 'numba'), or use 'loss' 'ns' on the GPU"
        else:
            instead = "train it with 'backend' 'numba' (the CPU's default), or use 'loss' 'ns'"
        raise ConfigError(f"'loss' {loss!r} is implemented by the Numba kernels only, not by the {backend} engine "
                          f"(device {device!r}): {instead}")


def check_available(device: str, backend: str, loss: str = "ns") -> None:
    """Fail early, with what to install or what is missing, when ``backend`` cannot run on ``device`` or
    does not implement ``loss``.

    Raises
    ------
    ConfigError
        ``loss`` is not implemented by ``backend`` (:func:`check_loss`).
    DeviceError
        PyTorch is not installed, or CUDA (or the GPU named) is not visible.
    """
    device, backend = resolve(device, backend)
    check_loss(loss, device, backend)
    if backend == "numba":
        return
    needs = f"the torch backend{' (device ' + device + ')' if device != 'cpu' else ''}"
    try:
        import torch
    except Exception as e:
        if isinstance(e, ImportError) and _torch_missing(e):
            raise DeviceError(f"{needs} needs PyTorch: pip install 'w2v[torch]'") from None
        # torch is there, but something it needs is not (an import inside it, a library it loads: OSError)
        cause = _first_line(e) if isinstance(e, ImportError) else f"{type(e).__name__}: {_first_line(e)}"
        raise DeviceError(f"{needs}: PyTorch is installed but does not import ({cause}); reinstall it, or "
                          "train with --backend numba") from None
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            if getattr(torch.version, "hip", None):
                raise DeviceError(f"device {device!r}: no GPU is visible to this PyTorch (a ROCm "
                                  f"{torch.version.hip} build): check the driver (rocm-smi) and "
                                  "HIP_VISIBLE_DEVICES, or use --device cpu (device='cpu' in Python)")
            if getattr(torch.version, "cuda", None):
                raise DeviceError(f"device {device!r}: no CUDA GPU is visible to this PyTorch (a CUDA "
                                  f"{torch.version.cuda} build): check the driver (nvidia-smi) and "
                                  "CUDA_VISIBLE_DEVICES, or use --device cpu (device='cpu' in Python)")
            raise DeviceError(f"device {device!r}: this PyTorch is a CPU-only build; use --device cpu "
                              "(device='cpu' in Python), or install a CUDA build of PyTorch on a machine with "
                              "an NVIDIA GPU")
        index = int(device.split(":")[1]) if ":" in device else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceError(f"device {device!r}: only {count} CUDA device{'s' if count != 1 else ''} "
                              f"visible (cuda:0{' .. cuda:' + str(count - 1) if count > 1 else ''})")


def _torch_missing(error: ImportError) -> bool:
    """Whether ``import torch`` failed because PyTorch is not installed (not because it is broken)."""
    import importlib.util

    if not isinstance(error, ModuleNotFoundError) or error.name != "torch":
        return False
    try:
        return importlib.util.find_spec("torch") is None
    except ValueError:  # sys.modules["torch"] is None: import turned off, as if not installed
        return True


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


class NumbaEngine:
    """The Numba kernels on the host weights: one chunk per call, called by every thread of a pass."""

    name = "numba"
    chunks_per_call = 1

    def __init__(self, config, weights: tuple[np.ndarray, np.ndarray], tables: tuple[np.ndarray, np.ndarray],
                 threads: int | None = None):
        from . import kernels

        self.kernel = kernels.KERNELS[(config.model, config.loss, config.use_hogbatch)]
        self.weights, self.tables = weights, tables
        self.params = (np.int64(config.window), np.int64(config.n_negative), np.int64(config.cbow_mean))
        self.threads = threads or config.n_threads
        # compile (first use on this machine only; cached after) before the clock and the threads start
        self.kernel(weights, tables, np.zeros(1, np.int32), np.ones(1, np.int64), 0, 0, self.params, 0.0,
                    np.uint64(0))

    def train(self, batch: Batch) -> tuple[float, int, int, int]:
        total = np.zeros(4)
        cs = batch.chunk_sentences
        for g in range(len(batch.lrs)):
            total += self.kernel(self.weights, self.tables, batch.ids, batch.sentence_ends, int(cs[g]),
                                 int(cs[g + 1]), self.params, float(batch.lrs[g]), np.uint64(batch.seeds[g]))
        return float(total[0]), int(total[1]), int(total[2]), int(total[3])

    def pull(self) -> None:
        pass

    def finite(self) -> bool:
        from .formats import all_finite

        return all_finite(*self.weights)

    def tensors(self):
        """The weights as torch tensors sharing the host arrays (for collectives; needs PyTorch)."""
        import torch

        return torch.from_numpy(self.weights[0]), torch.from_numpy(self.weights[1])

    def close(self) -> None:
        pass


def make_engine(device: str, backend: str | None, config, weights, tables, threads: int | None = None) -> Engine:
    """The engine for ``device`` and ``backend`` (checked), holding ``weights`` (the host arrays); ``threads``
    overrides the config's (a distributed rank's share of its node's cores)."""
    device, backend = resolve(device, backend)
    check_loss(config.loss, device, backend)  # before anything is built or trained
    if backend == "numba":
        return NumbaEngine(config, weights, tables, threads)
    check_available(device, backend, config.loss)
    from .torch_engine import TorchEngine

    return TorchEngine(config, weights, tables, device, threads=threads)
