"""Benchmark: how evenly the pacer spends Google's quota, whatever window Google enforces it over. Prints figures.

    .venv/bin/python tests/bench/bench_pacing.py [--calls 3000] [--rate 40] [--latency 0.05]

Google's quota is "per minute" but the window it is enforced over is not documented: any sliding window from
5 s to 60 s may be the one. Each scenario runs the product's Pacer (libraries/pacing.py) against the emulator's
own quota (app_google_sync/emulator/limits.py: calls per sliding window, counted per user) on an injected clock,
so minutes of quota take a second: a first synchronization of --calls calls (a 1,000-user first run with two
memberships each needs about 3,000) goes out in batches as GoogleTarget sends them (each batch waits for its
share, its parts answered at once after --latency; a quota answer throttles the pacer, the refused parts go
again, as the executor does).

  told:   queries_per_minute is the allowed rate (--rate per second) and the tool is alone on the quota;
          floor = calls / rate.
  shared: another tool spends half the quota, evenly, unknown to the pacer (still told the whole rate);
          floor = calls / (rate / 2).
Goals (issue 20): told ≤ 1.2x the floor with ≤ 1% rejected; shared ≤ 1.3x with < 5% rejected; for every window.
"""

from __future__ import annotations

import argparse

from app_google_sync.emulator.errors import ApiError
from app_google_sync.emulator.limits import Quota
from app_google_sync.libraries.google.pacing import Pacer

WINDOWS = (5.0, 10.0, 30.0, 60.0)
SUBJECT = "admin@example.com"


class World:
    """The injected clock: time moves only when the pacer sleeps or a batch is on the wire; the other tool's
    calls, evenly spaced, are charged as time passes them."""

    def __init__(self, quota_rate: float, window: float, other_rate: float):
        self.now = 0.0
        self.quota = Quota(lambda: self.now, per_window=round(quota_rate * window), window=window)
        self.other_gap = 1 / other_rate if other_rate else None
        self.other_next = 0.0

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        target = self.now + max(0.0, seconds)
        while self.other_gap and self.other_next <= target:
            self.now = self.other_next
            self._charge_other()
            self.other_next += self.other_gap
        self.now = target

    def _charge_other(self) -> None:
        try:
            self.quota.charge(SUBJECT)
        except ApiError:
            pass  # the other tool's refused call is not counted, as Google does not count it

    def charge(self) -> bool:
        try:
            self.quota.charge(SUBJECT)
            return True
        except ApiError:
            return False


def first_sync(
    calls: int, quota_rate: float, window: float, shared: bool, latency: float, batch_size: int = 1000
) -> dict:
    world = World(quota_rate, window, quota_rate / 2 if shared else 0.0)
    world.advance(window)  # the other tool has been at it for a while: its window is full of its calls
    start = world.now
    pacer = Pacer(quota_rate * 60, clock=world.clock, sleep=world.advance)
    left, sent, rejected = calls, 0, 0
    while left:
        size = min(left, batch_size, pacer.chunk)
        pacer.acquire(size)
        world.advance(latency / 2)  # on the way
        refused = sum(not world.charge() for _ in range(size))
        world.advance(latency / 2)  # the answer on its way back
        sent, rejected, left = sent + size, rejected + refused, left - (size - refused)
        if refused:
            pacer.throttled()
        else:
            pacer.answered(size)
    seconds = world.now - start
    floor = calls / (quota_rate / 2 if shared else quota_rate)
    return {"seconds": seconds, "floor": floor, "ratio": seconds / floor, "sent": sent, "rejected": rejected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument(
        "--rate", type=float, default=40.0, help="allowed calls per second (Google's default 2,400/min = 40)"
    )
    parser.add_argument("--latency", type=float, default=0.05, help="seconds a batch takes there and back")
    args = parser.parse_args()
    print(
        f"{args.calls} calls, quota {args.rate:g} calls/s ({args.rate * 60:.0f}/min), {args.latency * 1000:.0f} ms per batch"
    )
    print(f"{'scenario':<8} {'window':>7} {'wall':>8} {'floor':>8} {'ratio':>6} {'rejected':>16}")
    for shared in (False, True):
        for window in WINDOWS:
            figures = first_sync(args.calls, args.rate, window, shared, args.latency)
            print(
                f"{'shared' if shared else 'told':<8} {window:>6g}s {figures['seconds']:>7.1f}s {figures['floor']:>7.1f}s "
                f"{figures['ratio']:>5.2f}x {figures['rejected']:>5} of {figures['sent']:<5} {100 * figures['rejected'] / figures['sent']:>4.1f}%"
            )


if __name__ == "__main__":
    main()
