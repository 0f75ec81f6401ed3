"""What a run tells while it trains, and how it is asked to stop: SIGINT/SIGTERM, and the one-line progress bar."""
from __future__ import annotations

import signal
import sys
import threading
import time


class StopRequest:
    """SIGINT/SIGTERM set a flag; the loop finishes its step, checkpoints and returns. A second Ctrl+C aborts."""

    def __init__(self):
        self.reason: str | None = None
        self._old = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals can only be handled in the main thread (fit() called from a worker thread)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.reason == "signal":
            signal.signal(signum, self._old.get(signum, signal.SIG_DFL))
            raise KeyboardInterrupt
        self.reason = "signal"
        print(f"\nposeeditor-train: {signal.Signals(signum).name}: stopping after this step with a checkpoint "
              f"(again to abort)", file=sys.stderr, flush=True)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


class ProgressBar:
    """One updating line on stderr: step, bar, losses, it/s, time left. Plain lines when not a terminal."""

    def __init__(self, total: int, mode: str = "auto", stream=None):
        self.stream = stream or sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.mode = "tty" if (mode == "on" or (mode == "auto" and tty)) else ("lines" if mode != "off" else "off")
        self.total = total
        self._last = 0.0

    def update(self, row: dict, force: bool = False, budget_left: float | None = None) -> None:
        """``budget_left``: wall seconds until the time budget ends the run, when it has one (a one-minute run
        said "4:10:20 left", counting towards its default 10,000 steps)."""
        if self.mode == "off":
            return
        now = time.monotonic()
        interval = 0.25 if self.mode == "tty" else 30.0
        if not force and now - self._last < interval:
            return
        self._last = now
        step, total = row["step"], self.total
        frac = min(1.0, step / max(total, 1))
        losses = " ".join(f"{k} {v:.4g}" for k, v in row.items()
                          if isinstance(v, float) and k not in ("elapsed", "it_s", "data_s") and "loss" in k)
        its = row.get("it_s") or 0.0
        eta = (total - step) / its if its > 0 else 0.0
        if budget_left is not None:
            eta = min(eta, max(0.0, budget_left)) if its > 0 else max(0.0, budget_left)
        text = (f"step {step}/{total} {frac * 100:5.1f}% {losses} | {its:.2f} it/s, "
                f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d} left")
        if self.mode == "tty":
            width = 20
            bar = "#" * int(frac * width) + "." * (width - int(frac * width))
            self.stream.write(f"\r[{bar}] {text}\033[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.mode == "off":
            return
        self.stream.write(("\r\033[K" if self.mode == "tty" else "") + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.mode == "tty":
            self.stream.write("\n")
            self.stream.flush()
