"""Pacing to Google's quota instead of bouncing off it.

Google counts every call, each batch part included, against a per-minute quota
(2,400 queries per minute per user per project by default), but does not say over
which window it enforces it: any sliding window from 5 s to the minute may be the
one. The fastest a run can go is (calls needed) / (allowed rate); sending faster
only earns 403/429 answers that must be sent again. So every call waits here for
its share:

- a token bucket at a little under the configured rate, spent evenly: what may go
  at once (after a quiet spell, or as one batch) is kept within the margin of the
  shortest window (5% of 5 s' worth), so no window from 5 s to 60 s sees more
  than its share of the quota;
- a quota answer (another tool spends part of the quota, or it is lower than
  configured) halves the rate, once per batch sent since the last cut (answers to
  batches sent at the old pace are echoes, not news); answered calls win it back
  steadily, slowly near the rate Google last refused, so the rate settles just
  under what is left instead of see-sawing over it;
- the bucket's state is kept in a small file in ``state_dir``, so the runs and
  pushes of one server (which never overlap: they share the run lock) share
  one budget instead of each starting with a full one.

``tests/bench/bench_pacing.py`` measures it against the emulator's quota for
windows of 5 to 60 s, alone and with another tool spending half the quota.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..state import state_files

log = logging.getLogger(__name__)

MARGIN = 0.95  # of the configured quota actually used
FLOOR = 0.05  # the rate never drops below this share of the configured one
RECOVERY_SECONDS = 20.0  # from nothing to the whole rate in this many seconds of answered calls (of a 60 s window)
BURST_SECONDS = 1.0  # calls that may go at once after a quiet spell: one second's worth at most (less: SHORTEST_WINDOW)
MINUTE = 60.0  # the window Google counts queries_per_minute over
DECREASE = 0.5  # a quota answer halves the rate (once per batch sent since the last cut)
NEAR = 0.9  # within this share of the rate Google last refused, the rate is won back at PROBE of the speed
PROBE = 0.25
SHORTEST_WINDOW = 5.0  # the shortest window Google may enforce it over (undocumented: any from 5 s to the minute)


class Pacer:
    def __init__(
        self,
        queries_per_minute: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        state_file: str | Path | None = None,
        window: float = MINUTE,
    ):
        """``window``: the seconds the quota is counted over. Google's is a minute; a benchmark that compresses
        Google's minute into a few seconds (100 calls per 5 s) says so here, and every time constant scales with it."""
        self.ceiling = queries_per_minute / MINUTE * MARGIN  # calls per second
        self.window = window
        # A sliding window of W seconds sees at most rate * W + one burst: the burst is kept within the margin of
        # the shortest window Google may enforce the quota over (5 s of its minute), so every window holds its share.
        self.burst_seconds = min(BURST_SECONDS, window * SHORTEST_WINDOW / MINUTE * (1 - MARGIN) / MARGIN)
        self.recovery_seconds = RECOVERY_SECONDS * window / MINUTE
        self.rate = self.ceiling
        self.refused_at = float("inf")  # the rate at the last quota answer
        self.batches = 0  # batches (or single calls) sent so far
        self.cut_at_batch = -1  # the batch whose quota answer last cut the rate
        self.clock, self.sleep = clock, sleep
        self.state_file = Path(state_file) if state_file else None
        self.tokens = self.burst
        self.updated = clock()
        self.waited = 0.0  # seconds spent waiting, for the run's figures
        self._load()

    @property
    def burst(self) -> float:
        return max(1.0, self.rate * self.burst_seconds)

    def acquire(self, calls: int) -> None:
        """Wait until ``calls`` more calls fit in the budget (a large batch runs the bucket into debt, then waits it off)."""
        self._refill()
        self.batches += 1
        self.tokens -= calls
        if self.tokens < 0:
            wait = -self.tokens / self.rate
            self.waited += wait
            self.sleep(wait)
            self._refill()
        self._save()

    def throttled(self) -> None:
        """Google said we were too fast (about the last batch sent): slow down and drop what was saved up. The rate is
        cut once per batch sent since the last cut: answers to batches sent at the old pace are echoes, not news."""
        self.tokens = min(self.tokens, 0.0)
        if self.batches > self.cut_at_batch:
            self.refused_at = self.rate
            self.rate = max(self.rate * DECREASE, self.ceiling * FLOOR)
            self.cut_at_batch = self.batches
            log.info("quota answer from Google: pacing down to %.1f calls per second", self.rate)
        self._save()

    def answered(self, calls: int = 1) -> None:
        """Calls came back without a quota error: win the rate back (the seconds these calls took, at the pace of
        RECOVERY_SECONDS), slowly close under the rate Google last refused."""
        gain = calls / self.rate * self.ceiling / self.recovery_seconds  # the seconds these calls took, times the pace
        if self.refused_at * NEAR <= self.rate <= self.refused_at:
            gain *= PROBE
        self.rate = min(self.ceiling, self.rate + gain)

    @property
    def chunk(self) -> int:
        """Parts worth sending in one batch: one burst's worth at most, so a batch never swamps the quota window."""
        return max(1, int(self.rate * self.burst_seconds))

    def _refill(self) -> None:
        moment = self.clock()
        self.tokens = min(self.burst, self.tokens + (moment - self.updated) * self.rate)
        self.updated = moment

    def _load(self) -> None:
        if not self.state_file:
            return
        try:
            saved = json.loads(self.state_file.read_text())
            rate, tokens, updated = float(saved["rate"]), float(saved["tokens"]), float(saved["updated"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # no budget saved yet (or a damaged one): start full
        if (saved.get("ceiling"), saved.get("window", MINUTE)) != (self.ceiling, self.window) or updated > self.clock():
            return  # the quota setting changed, or the clock went back: start afresh
        self.rate, self.tokens, self.updated = min(rate, self.ceiling), tokens, updated
        self._refill()

    def _save(self) -> None:
        if not self.state_file:
            return
        state = {
            "ceiling": self.ceiling,
            "window": self.window,
            "rate": self.rate,
            "tokens": self.tokens,
            "updated": self.updated,
        }
        try:
            temporary = self.state_file.with_suffix(".tmp")
            with os.fdopen(state_files.open_private(temporary, os.O_WRONLY | os.O_TRUNC), "w") as stream:
                stream.write(json.dumps(state))
            os.replace(temporary, self.state_file)
        except OSError as error:  # pacing still works in memory; only the sharing between runs is lost
            log.debug("cannot save the quota budget to %s: %s", self.state_file, error)
