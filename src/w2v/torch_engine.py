"""The PyTorch engine: word2vec's updates in minibatch steps, on a GPU (or the CPU, for the tests).

It trains what :mod:`w2v.kernels` trains, from the same pieces: the subsampling thresholds and the noise
alias table of :mod:`w2v.sampling` (exact draws, no rounding), the dynamic window, the learning rate of each
chunk from :func:`w2v.train.learning_rate`, the loss ``-log s(u_o.v) - sum_k log s(-u_k.v)``, float32
weights.  Skip-gram per pair (the C tool's update: each context word's own ``negative`` noise words),
skip-gram HogBatch (the window shares one draw of noise words) and CBOW (mean or sum).

What differs is when updates land.  The Numba kernels apply each (context, centre) pair's update before the
next pair is computed; a GPU wants thousands of them at once.  Here :data:`STEP_CENTRES` consecutive centre
words (after subsampling) are one **step**: every update of the step is computed from the weights at its
start, and the updates are summed into their rows (``index_add_``): the HogBatch minibatch, over many
windows.  The risk is the frequent rows: a step of 1,024 centres touches the row of "the" about a hundred
times (subsampling keeps ~15% of its occurrences on Wikipedia), and summed plainly such stale updates
overshoot where a sequential pass corrects itself (measured: steps of 4,096 diverged within a few steps).
So each row's summed update is damped by ``(1 - exp(-A)) / A``, ``A`` the sum over the step's contributions
to that row of its stiffness ``lr * s'(f) * |x|^2`` (``x`` the pair's other vector): the distance that many
sequential SGD steps travel along a quadratic model of the loss, relative to their sum.  A row hit once or
twice moves as plain SGD would; a row hit hundreds of times cannot overshoot.  The tests check the quality
against the Numba path; benchmarks/NOTES.md (section 9) has the measurements.

On a CUDA device the group is trained instead by the numba-cuda kernel of :mod:`w2v.cuda_kernels`
(:data:`KERNEL`): the draws below are made here, then thousands of segments of the kept tokens are trained at
once, each in order with sequential updates (Hogwild); the steps stay for the CPU and where that kernel
cannot run.

Random draws are counter-based, so that they do not depend on how chunks are grouped or on any order: draw
``slot`` of the token at position ``p`` of a chunk is ``random32(chunk seed, p * S + slot)`` with
``S = 2 + 2 * draws``: slot 0 decides subsampling (keep when below the word's threshold), slot 1 the window
``1 + r % window``, then two per noise word (bucket, then the coin of the alias table): ``negative`` of them
per centre (HogBatch, CBOW) or per (context offset, centre) (skip-gram per pair).  ``tests/reference.py``
replays them in NumPy.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from .engine import Batch
from .errors import ResourceError
from .memory import _size, check_memory, fitting
from .passes import CHUNK_WORDS

log = logging.getLogger(__name__)

STEP_CENTRES = 1024
"""Centre words (after subsampling) per step: updates within a step are computed from the same weights.
Larger steps use a GPU better and learn a little worse (benchmarks/NOTES.md, section 9: at 4,096 WS-353 lost
0.02 more and the analogies a point)."""

GROUP_TOKENS = 1 << 17
"""Tokens handed over per call (consecutive chunks; about 13 of the trainer's 10,000-token chunks): one host
synchronisation per call, after a few milliseconds of device work."""

KERNEL = "auto"
"""How a group is trained: ``"steps"`` (the minibatch steps below, plain torch operations, any device),
``"hogwild"`` (the numba-cuda kernel of :mod:`w2v.cuda_kernels`: sequential updates, thousands of segments at
once), or ``"auto"``: hogwild on a CUDA device where numba-cuda sees it and the dimension is at most
:data:`w2v.cuda_kernels.MAX_DIM`, steps elsewhere."""

HOGWILD_GROUP_TOKENS = 1 << 20
"""Tokens per call for the hogwild kernel: one launch trains them all, so a call must give every block
enough tokens to walk (about 100 of the trainer's chunks)."""

BLOCKS_PER_SM = 32
"""Hogwild blocks (one warp each) per multiprocessor: the segments trained at once, so the number of
concurrent writers of the weights."""

ACCESS_SETTINGS = ("plain", "atomic", "coherent")  # w2v.cuda_kernels.ACCESS, without importing numba.cuda

HOGWILD_ACCESS = "atomic"
"""How the hogwild kernel reads and writes the shared rows: ``"plain"`` loads and stores (Hogwild),
``"atomic"`` adds, or ``"coherent"`` (atomic adds, rows read past the L1 cache): see
:mod:`w2v.cuda_kernels` and ``benchmarks/gpu.py --access``.  Atomic is the default by measurement on an H100
(benchmarks/NOTES.md, section 21): plain stores lose the updates of concurrent writers (skip-gram at dim 100:
about 21% of the analogies), atomic adds keep them (37.6% over five runs; Numba on the CPU 38.1-38.4% at
seed 1), and reading the rows past L1 as well (coherent) learns no better (37.6%) and trains 2-10% slower."""

PER_WORD_BYTES = 8 * 3
"""Device memory a word takes besides its two rows: its subsampling threshold and the alias table's halves."""

_M32 = 0xFFFFFFFF


MAX_HOGWILD_DIM = 1024
"""The largest dimension the hogwild kernel's threads hold (``w2v.cuda_kernels.MAX_DIM``)."""


def _cuda_kernels():
    """:mod:`w2v.cuda_kernels` (numba-cuda), imported when first needed."""
    from . import cuda_kernels

    return cuda_kernels


def _hogwild_available() -> bool:
    """Whether numba-cuda imports and sees a GPU."""
    try:
        return _cuda_kernels().available()
    except Exception:  # numba-cuda missing, or a driver or NumPy it cannot work with
        return False


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``(x * c) mod 2**32`` for uint32 values held in int64, without int64 overflow (two 16-bit halves)."""
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & _M32


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash with good avalanche (Wellons' "lowbias32")."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def random32(key_lo: torch.Tensor, key_hi: torch.Tensor, counter: torch.Tensor) -> torch.Tensor:
    """32 random bits (int64 in [0, 2**32)) for each ``counter`` of the stream keyed (lo, hi) (int64)."""
    x = _mix32((counter & _M32) ^ key_lo)
    x = _mix32(x ^ key_hi)
    return _mix32(x ^ (counter >> 32))


class TorchEngine:
    """The weights on ``device``; each call trains a group of chunks in steps of :data:`STEP_CENTRES`."""

    name = "torch"
    threads = 1  # one worker feeds the device; on the CPU, PyTorch spreads each operation over the cores

    def __init__(self, config, weights: tuple[np.ndarray, np.ndarray], tables: tuple[np.ndarray, np.ndarray],
                 device: str = "cpu", step_centres: int | None = None, group_tokens: int | None = None,
                 threads: int | None = None, kernel: str | None = None, blocks: int | None = None,
                 access: str | None = None):
        self.device = torch.device(device)
        self.model, self.hogbatch = config.model, config.use_hogbatch
        self.window, self.negative, self.cbow_mean = config.window, config.n_negative, bool(config.cbow_mean)
        self.step = int(step_centres or STEP_CENTRES)
        per_pair = self.model == "sg" and not self.hogbatch
        self.variant = "sg" if per_pair else "sg-hogbatch" if self.model == "sg" else "cbow"
        self.draws = self.negative * (2 * self.window if per_pair else 1)
        self.stride = 2 + 2 * self.draws
        self.host = weights
        vocab, dim = weights[0].shape
        self.kernel = self._choose_kernel(kernel or KERNEL, dim)
        self.blocks = blocks  # hogwild blocks per launch (default: BLOCKS_PER_SM per multiprocessor)
        self.access = access or HOGWILD_ACCESS
        if self.access not in ACCESS_SETTINGS:
            raise ValueError(f"access must be one of {', '.join(ACCESS_SETTINGS)}, not {self.access!r}")
        default_group = HOGWILD_GROUP_TOKENS if self.kernel == "hogwild" else GROUP_TOKENS
        self.chunks_per_call = max(1, (group_tokens or default_group) // CHUNK_WORDS)
        self._check_memory(vocab, dim)
        if self.kernel == "hogwild" and self.device.type == "cuda":  # compiled before any pass's clock starts
            began = time.perf_counter()
            if _cuda_kernels().prepare(dim):
                log.info("hogwild kernel compiled for dimension %d in %.1f s", dim, time.perf_counter() - began)
        self._threads = None
        if self.device.type == "cpu":
            self._threads = torch.get_num_threads()
            torch.set_num_threads(threads or config.n_threads)  # restored by close()
            # shares the host arrays: updates land in them directly, pull() has nothing to do
            self.w_in, self.w_out = torch.from_numpy(weights[0]), torch.from_numpy(weights[1])
        else:
            self.w_in = torch.from_numpy(weights[0]).to(self.device)
            self.w_out = torch.from_numpy(weights[1]).to(self.device)
        keep, noise = tables
        self.keep = torch.from_numpy(np.asarray(keep, dtype=np.int64)).to(self.device)
        noise = np.asarray(noise, dtype=np.uint64)
        self.alias_threshold = torch.from_numpy((noise >> np.uint64(32)).astype(np.int64)).to(self.device)
        self.alias = torch.from_numpy((noise & np.uint64(_M32)).astype(np.int64)).to(self.device)
        self.vocab = vocab
        w = self.window
        self.offsets = torch.tensor([o for o in range(-w, w + 1) if o != 0], dtype=torch.int64,
                                    device=self.device)  # (2W,)

    def _choose_kernel(self, kernel: str, dim: int) -> str:
        if kernel not in ("auto", "steps", "hogwild"):
            raise ValueError(f"kernel must be 'auto', 'steps' or 'hogwild', not {kernel!r}")
        if kernel == "auto":
            use = self.device.type == "cuda" and dim <= MAX_HOGWILD_DIM and _hogwild_available()
            kernel = "hogwild" if use else "steps"
            if self.device.type == "cuda" and use:
                log.info("torch engine on %s: the hogwild kernel (numba-cuda)", self.device)
            elif self.device.type == "cuda":  # correct, but slower than the CPU: say so, and what would do
                why = (f"a dimension of at most {MAX_HOGWILD_DIM}, not {dim}" if dim > MAX_HOGWILD_DIM else
                       "numba-cuda (pip install 'w2v[torch]'), which does not import or does not see the GPU")
                log.warning("torch engine on %s: minibatch steps of %d centres, about 100 times slower on a GPU "
                            "than the hogwild kernel and slower than the CPU's Numba kernels; the kernel needs %s",
                            self.device, self.step, why)
        elif kernel == "hogwild" and dim > MAX_HOGWILD_DIM:
            raise ValueError(f"the hogwild kernel holds at most {MAX_HOGWILD_DIM} dimensions, not {dim}")
        return kernel

    # -- memory -----------------------------------------------------------------------------------------
    def step_bytes(self, dim: int) -> int:
        """Device memory of one call's temporaries: a step's rows (the per-pair skip-gram's noise rows
        dominate), or the hogwild kernel's draws (8 bytes, a few times over, per draw of every token)."""
        if self.kernel == "hogwild":
            return 8 * 8 * self.chunks_per_call * CHUNK_WORDS * (self.draws + 8)
        rows = self.step * 2 * self.window * (self.draws // max(1, 2 * self.window) + 2)
        return 6 * 4 * rows * dim + 64 * GROUP_TOKENS

    def _check_memory(self, vocab: int, dim: int) -> None:
        """Refuse weights that do not fit on the GPU (:func:`w2v.memory.check_memory`: the figures and the
        ``--dim`` or ``--max-final-vocab`` that would fit); give the hogwild kernel's calls fewer tokens where
        their draws would not fit beside the weights; refuse a call's buffer that fits in no way, saying what
        shrinks it."""
        if self.device.type != "cuda":
            return
        free, _ = torch.cuda.mem_get_info(self.device)
        free += torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)  # torch's cache
        need = check_memory(vocab, dim, available=free, what=f"memory on {self.device}",
                            per_word_bytes=PER_WORD_BYTES)
        left = free - need
        if self.kernel == "hogwild" and self.step_bytes(dim) > left // 2:  # fewer tokens a call, half what is left
            calls = self.chunks_per_call
            self.chunks_per_call = max(1, calls * (left // 2) // max(1, self.step_bytes(dim)))
            log.warning("torch engine on %s: %d tokens a call instead of %d, so that their %d noise draws each "
                        "fit in the memory left beside the weights (fewer tokens a call: slower)", self.device,
                        self.chunks_per_call * CHUNK_WORDS, calls * CHUNK_WORDS, self.draws)
        if self.step_bytes(dim) > left:
            raise ResourceError(
                f"the weights and tables take {_size(need)} of the {_size(free)} free on {self.device}, and a "
                f"call's buffer needs {_size(self.step_bytes(dim))} more; {self._shrink_advice(vocab, dim, free)}")

    def _shrink_advice(self, vocab: int, dim: int, free: int) -> str:
        """What makes room for a call's buffer: fewer draws a token (what drives them), or smaller weights."""
        if self.kernel == "hogwild":
            per_pair = self.model == "sg" and not self.hogbatch
            fixes = [f"lower --negative ({self.draws} noise draws a token)" + (
                " or --window, or train with --hogbatch (its noise words are shared by the window)"
                if per_pair else "")]
        else:
            fixes = ["lower --dim, --negative or --window (a step's rows)"]
        # what the weights may take for the buffer to fit beside them
        max_dim, max_vocab = fitting(vocab, dim, free - self.step_bytes(dim), PER_WORD_BYTES)
        if max_dim >= 1:
            fixes.append(f"--dim at most {max_dim:,}")
        if max_vocab >= 1:
            fixes.append(f"--max-final-vocab at most {max_vocab:,}")
        return "; or ".join(fixes)

    # -- training ---------------------------------------------------------------------------------------
    def _tokens(self, batch: Batch):
        """The batch's tokens on the device with what each draw needs: (word, sentence, counter base, key lo,
        key hi, learning rate), each of length n."""
        dev = self.device
        ids = torch.from_numpy(np.asarray(batch.ids, dtype=np.int64))
        ends = np.asarray(batch.sentence_ends, dtype=np.int64)
        cs = np.asarray(batch.chunk_sentences, dtype=np.int64)
        if dev.type == "cuda":
            ids = ids.pin_memory().to(dev, non_blocking=True)
        n = int(ends[-1])
        sentence_lengths = np.diff(ends, prepend=0)
        chunk_first = np.concatenate([[0], ends[cs[1:] - 1]])  # token offset of each chunk (G + 1)
        chunk_lengths = np.diff(chunk_first)
        small = torch.from_numpy(np.concatenate([sentence_lengths, chunk_lengths, chunk_first[:-1]])).to(dev)
        s_len, c_len, c_first = torch.split(small, [len(ends), len(chunk_lengths), len(chunk_lengths)])
        sentence = torch.repeat_interleave(torch.arange(len(ends), device=dev), s_len, output_size=n)
        chunk = torch.repeat_interleave(torch.arange(len(chunk_lengths), device=dev), c_len, output_size=n)
        position = torch.arange(n, device=dev) - c_first[chunk]
        seeds = np.asarray(batch.seeds, dtype=np.uint64)
        keys = torch.from_numpy(np.stack([(seeds & np.uint64(_M32)).astype(np.int64),
                                          (seeds >> np.uint64(32)).astype(np.int64)])).to(dev)
        lrs = torch.from_numpy(np.asarray(batch.lrs, dtype=np.float32)).to(dev)
        return ids, sentence, position * self.stride, keys[0][chunk], keys[1][chunk], lrs[chunk]

    def _noise(self, key_lo, key_hi, counter):
        """Noise words for the draws at ``counter`` (bucket) and ``counter + 1`` (coin): Walker's alias."""
        bucket = (random32(key_lo, key_hi, counter) * self.vocab) >> 32
        coin = random32(key_lo, key_hi, counter + 1)
        return torch.where(coin < self.alias_threshold[bucket], bucket, self.alias[bucket])

    @torch.no_grad()
    def train(self, batch: Batch) -> tuple[float, int, int, int]:
        word, sentence, base, key_lo, key_hi, lr = self._tokens(batch)
        n = word.shape[0]
        kept = random32(key_lo, key_hi, base) < self.keep[word]  # slot 0: subsampling
        index = torch.nonzero(kept).squeeze(1)
        word, sentence, base, key_lo, key_hi, lr = (t[index] for t in (word, sentence, base, key_lo, key_hi, lr))
        k = int(index.shape[0])
        b = 1 + random32(key_lo, key_hi, base + 1) % self.window  # slot 1: the window of each kept centre
        if self.kernel == "hogwild":
            return self._hogwild(word, sentence, base, key_lo, key_hi, lr, b, k, n)
        loss = torch.zeros((), dtype=torch.float64, device=self.device)
        examples = torch.zeros((), dtype=torch.int64, device=self.device)
        kept_tokens = (word, sentence, base, key_lo, key_hi, lr, b, k)
        for start in range(0, k, self.step):
            step_loss, step_examples = self._step(kept_tokens, start)
            loss += step_loss
            examples += step_examples
        return float(loss.item()), int(examples.item()), n, k

    def _hogwild(self, word, sentence, base, key_lo, key_hi, lr, b, k: int, n: int):
        """The group in one launch of :func:`w2v.cuda_kernels.hogwild`: every kept centre's noise words drawn
        here (the same slots as the steps'), then segments of the kept tokens trained at once."""
        kernels = _cuda_kernels()
        slots = base[:, None] + 2 + 2 * torch.arange(self.draws, device=self.device)[None, :]
        noise = self._noise(key_lo[:, None], key_hi[:, None], slots).to(torch.int32)
        if self.blocks:
            blocks = self.blocks
        elif self.device.type == "cuda":
            blocks = torch.cuda.get_device_properties(self.device).multi_processor_count * BLOCKS_PER_SM
        else:  # the simulator: one block per 64 tokens
            blocks = max(1, k // 64)
        segment = max(1, -(-k // blocks))
        blocks = max(1, -(-k // segment))
        loss = torch.zeros(blocks, dtype=torch.float64, device=self.device)
        examples = torch.zeros(blocks, dtype=torch.int64, device=self.device)
        arrays = [self.w_in, self.w_out, word.to(torch.int32), sentence, lr, b.to(torch.int32), noise, loss,
                  examples]
        if self.device.type == "cuda":
            from numba import cuda

            arrays = [cuda.as_cuda_array(a) for a in arrays]
        else:
            arrays = [a.numpy() for a in arrays]
        w_in, w_out, word_, sentence_, lr_, b_, noise_, loss_, examples_ = arrays
        kernels.launch(w_in, w_out, word_, sentence_, lr_, b_, noise_, k, segment, kernels.MODES[self.variant],
                       self.window, self.negative, self.cbow_mean, loss_, examples_, kernels.ACCESS[self.access])
        return float(loss.sum().item()), int(examples.sum().item()), n, k

    def _step(self, kept_tokens, start: int):
        """One step: the centres ``start .. start + STEP_CENTRES - 1`` of the kept tokens (the last step is
        padded with masked centres, so every step has the same shapes)."""
        word, sentence, base, key_lo, key_hi, lr, b, k = kept_tokens
        dev = self.device
        centre_at = start + torch.arange(self.step, device=dev)                    # (T,)
        live = centre_at < k
        centre_at = centre_at.clamp(max=k - 1)
        context_at = centre_at[:, None] + self.offsets[None, :]                       # (T, 2W)
        inside = (context_at >= 0) & (context_at < k)
        context_at = context_at.clamp(0, k - 1)
        valid = (inside & live[:, None] & (self.offsets.abs()[None, :] <= b[centre_at][:, None])
                 & (sentence[context_at] == sentence[centre_at][:, None]))        # (T, 2W)
        centre, context = word[centre_at], word[context_at]
        rate = lr[centre_at]
        lo, hi, counter = key_lo[centre_at], key_hi[centre_at], base[centre_at] + 2
        if self.model == "sg" and not self.hogbatch:
            return self._sg_pairs(centre, context, valid, rate, lo, hi, counter)
        slots = counter[:, None] + 2 * torch.arange(self.negative, device=dev)[None, :]  # (T, k)
        noise = self._noise(lo[:, None], hi[:, None], slots)
        targets = torch.cat([centre[:, None], noise], dim=1)                          # (T, 1+k)
        target_ok = torch.cat([live[:, None], noise != centre[:, None]], dim=1)
        labels = torch.zeros(targets.shape, dtype=torch.float32, device=dev)
        labels[:, 0] = 1.0
        if self.model == "sg":
            return self._sg_hogbatch(context, valid, targets, target_ok, labels, rate)
        return self._cbow(context, valid, targets, target_ok, labels, rate)

    def _damping(self, rows: torch.Tensor, stiffness: torch.Tensor) -> torch.Tensor:
        """The factor of each contribution to row ``rows`` (any shape), from the row's total ``A``:
        ``(1 - exp(-A)) / A``, ``A`` the sum over the step's contributions to the row of ``stiffness`` =
        lr * s'(f) * |the other vector|^2 (see the module docstring)."""
        total = torch.zeros(self.vocab, dtype=torch.float32, device=self.device)
        total.index_add_(0, rows.reshape(-1), stiffness.reshape(-1))
        a = total[rows]
        return torch.where(a > 1e-4, -torch.expm1(-a) / a.clamp(min=1e-4), 1.0 - 0.5 * a)

    def _sg_pairs(self, centre, context, valid, rate, lo, hi, counter):
        """Skip-gram, the C tool's update: each (context, centre) pair has its own noise words."""
        k = self.negative
        slot = torch.arange(valid.shape[1] * k, device=self.device).view(1, -1, k)   # (1, 2W, k)
        noise = self._noise(lo[:, None, None], hi[:, None, None], counter[:, None, None] + 2 * slot)
        noise_ok = valid[:, :, None] & (noise != centre[:, None, None])             # (T, 2W, k)
        x = self.w_in[context]                                                       # (T, 2W, d)
        y_pos, y_neg = self.w_out[centre], self.w_out[noise]                         # (T, d), (T, 2W, k, d)
        f_pos = (x * y_pos[:, None, :]).sum(-1)                                      # (T, 2W)
        f_neg = (x[:, :, None, :] * y_neg).sum(-1)                                   # (T, 2W, k)
        s_pos, s_neg = torch.sigmoid(f_pos), torch.sigmoid(f_neg)
        g_pos = rate[:, None] * (1.0 - s_pos) * valid
        g_neg = rate[:, None, None] * -s_neg * noise_ok
        # damping: the stiffness of each contribution, for the row it moves
        xx, yy_pos, yy_neg = (x * x).sum(-1), (y_pos * y_pos).sum(-1), (y_neg * y_neg).sum(-1)
        c_pos = rate[:, None] * s_pos * (1.0 - s_pos) * valid
        c_neg = rate[:, None, None] * s_neg * (1.0 - s_neg) * noise_ok
        in_scale = self._damping(context, c_pos * yy_pos[:, None] + (c_neg * yy_neg).sum(2))      # (T, 2W)
        out_rows = torch.cat([centre[:, None].expand(-1, valid.shape[1]), noise.flatten(1)], dim=1)
        out_scale = self._damping(out_rows, torch.cat([c_pos * xx, (c_neg * xx[..., None]).flatten(1)], 1))
        pos_scale, neg_scale = out_scale[:, :valid.shape[1]], out_scale[:, valid.shape[1]:].view_as(noise)
        d = x.shape[-1]
        dx = (g_pos[..., None] * y_pos[:, None, :] + (g_neg[..., None] * y_neg).sum(2)) * in_scale[..., None]
        self.w_out.index_add_(0, centre, ((g_pos * pos_scale)[..., None] * x).sum(1))
        self.w_out.index_add_(0, noise.reshape(-1),
                              ((g_neg * neg_scale)[..., None] * x[:, :, None, :]).reshape(-1, d))
        self.w_in.index_add_(0, context.reshape(-1), dx.reshape(-1, d))
        loss = (F.softplus(-f_pos) * valid).sum(dtype=torch.float64) + \
            (F.softplus(f_neg) * noise_ok).sum(dtype=torch.float64)
        return loss, valid.sum()

    def _sg_hogbatch(self, context, valid, targets, target_ok, labels, rate):
        """Skip-gram HogBatch: the window's context rows X (2W, d) against its targets Y (1+k, d)."""
        x = self.w_in[context]                                                       # (T, 2W, d)
        y = self.w_out[targets]                                                      # (T, 1+k, d)
        f = torch.bmm(x, y.transpose(1, 2))                                          # (T, 2W, 1+k)
        mask = valid[:, :, None] & target_ok[:, None, :]
        s = torch.sigmoid(f)
        g = rate[:, None, None] * (labels[:, None, :] - s) * mask
        c = rate[:, None, None] * s * (1.0 - s) * mask                               # stiffness (T, 2W, 1+k)
        in_scale = self._damping(context, (c * (y * y).sum(-1)[:, None, :]).sum(2))  # (T, 2W)
        out_scale = self._damping(targets, (c * (x * x).sum(-1)[:, :, None]).sum(1))  # (T, 1+k)
        d = x.shape[-1]
        dx = torch.bmm(g, y) * in_scale[..., None]                                   # (T, 2W, d), old Y
        dy = torch.bmm(g.transpose(1, 2), x) * out_scale[..., None]                  # (T, 1+k, d), old X
        self.w_out.index_add_(0, targets.reshape(-1), dy.reshape(-1, d))
        self.w_in.index_add_(0, context.reshape(-1), dx.reshape(-1, d))
        signed = torch.where(labels[:, None, :] > 0, -f, f)
        return (F.softplus(signed) * mask).sum(dtype=torch.float64), valid.sum()

    def _cbow(self, context, valid, targets, target_ok, labels, rate):
        """CBOW: the mean (or sum) h of the context rows against the targets; the error goes to every one."""
        x = self.w_in[context] * valid[..., None]                                    # (T, 2W, d)
        m = valid.sum(1)                                                             # (T,)
        h = x.sum(1)
        if self.cbow_mean:
            h = h / m.clamp(min=1)[:, None].to(h.dtype)
        y = self.w_out[targets]                                                      # (T, 1+k, d)
        f = (y * h[:, None, :]).sum(-1)                                              # (T, 1+k)
        mask = target_ok & (m > 0)[:, None]
        s = torch.sigmoid(f)
        g = rate[:, None] * (labels - s) * mask
        c = rate[:, None] * s * (1.0 - s) * mask                                     # stiffness (T, 1+k)
        in_scale = self._damping(context, ((c * (y * y).sum(-1)).sum(1))[:, None] * valid)  # (T, 2W)
        out_scale = self._damping(targets, c * (h * h).sum(-1)[:, None])             # (T, 1+k)
        d = h.shape[-1]
        dh = (g[..., None] * y).sum(1)                                               # (T, d)
        self.w_out.index_add_(0, targets.reshape(-1),
                              ((g * out_scale)[..., None] * h[:, None, :]).reshape(-1, d))
        self.w_in.index_add_(0, context.reshape(-1),
                              (dh[:, None, :] * (valid * in_scale)[..., None]).reshape(-1, d))
        signed = torch.where(labels > 0, -f, f)
        return (F.softplus(signed) * mask).sum(dtype=torch.float64), (m > 0).sum()

    # -- host weights -----------------------------------------------------------------------------------
    def tensors(self):
        """The weights on the device (for collectives: NCCL on CUDA, gloo on the CPU)."""
        return self.w_in, self.w_out

    def finite(self) -> bool:
        if self.device.type == "cpu":
            # the host arrays, scanned by NumPy: a PyTorch op here, on the main thread, brought up a second
            # OpenMP team beside the training thread's, and with more OpenMP threads than cores libgomp
            # sleeps at its barriers (every pass after the first ran at half speed on 2 cores)
            from .formats import all_finite

            return all_finite(*self.host)
        return bool(torch.isfinite(self.w_in).all()) and bool(torch.isfinite(self.w_out).all())

    def pull(self) -> None:
        if self.device.type != "cpu":
            self.host[0][:] = self.w_in.cpu().numpy()
            self.host[1][:] = self.w_out.cpu().numpy()

    def close(self) -> None:
        if self._threads is not None:
            torch.set_num_threads(self._threads)
            self._threads = None
