"""Training progress for people: a tqdm bar on a terminal, plain periodic lines elsewhere, nothing if quiet."""

from __future__ import annotations

import sys
import time


class Progress:
    """Shows words done, words/s, the learning rate and the running loss.

    Output is a courtesy: when the stream fails (``2>&1 | head`` closed the pipe, a terminal hung up), the
    progress goes silent and training goes on.

    Parameters
    ----------
    total : int
        Words to train over all epochs (raw in-vocabulary tokens x epochs).
    enabled : bool
        False silences everything (``--quiet``).
    interval : float
        Seconds between plain lines when stderr is not a terminal.
    """

    def __init__(self, total: int, enabled: bool = True, interval: float = 10.0, stream=None):
        self.total = total
        self.enabled = enabled
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self._last_line = self.start
        self._bar = None
        if enabled and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm
            self._bar = tqdm(total=total, unit="w", unit_scale=True, file=self.stream, smoothing=0.1,
                             dynamic_ncols=True, leave=True)

    def update(self, done: int, epoch: int, epochs: int, lr: float, loss: float) -> None:
        """Report ``done`` words trained so far (all epochs) in ``epoch`` (1-based)."""
        try:
            self._update(done, epoch, epochs, lr, loss)
        except OSError:
            self._silence()

    def _silence(self) -> None:
        self.enabled = False
        self._bar = None

    def _update(self, done: int, epoch: int, epochs: int, lr: float, loss: float) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
            self._bar.set_postfix_str(f"lr {lr:.5f}  loss {loss:.4f}", refresh=False)
            self._bar.update(done - self._bar.n)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.interval:
            self._last_line = now
            rate = done / max(now - self.start, 1e-9)
            pct = 100.0 * done / max(self.total, 1)
            print(f"w2v: epoch {epoch}/{epochs}  {pct:5.1f}%  {rate:,.0f} words/s  lr {lr:.5f}  "
                  f"loss {loss:.4f}", file=self.stream, flush=True)

    def epoch_done(self, entry: dict) -> None:
        """One line per finished epoch (also under tqdm, written above the bar)."""
        try:
            self._epoch_done(entry)
        except OSError:
            self._silence()

    def _epoch_done(self, entry: dict) -> None:
        if not self.enabled:
            return
        line = (f"epoch {entry['epoch']}: loss {entry['loss']:.4f}  {entry['words_per_sec']:,.0f} words/s  "
                f"{entry['seconds']:.1f} s")
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print("w2v: " + line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            try:
                self._bar.close()
            except OSError:
                pass
            self._bar = None
