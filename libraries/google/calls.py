"""The Google client's own figures: calls answered and calls rejected, counted as answers come back in this
process (the worker's metrics endpoint shows them beside what the state database says)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter

API_REGISTRY = CollectorRegistry()
API_CALLS = Counter(
    "google_sync_api_calls",
    "Google API calls answered (each batch part counts, as Google counts it)",
    registry=API_REGISTRY,
)
API_REJECTED = Counter(
    "google_sync_api_rejected_calls",
    "Google API calls answered with an error, by reason (quota: rate limited)",
    ["reason"],
    registry=API_REGISTRY,
)


def count_calls(answered: int, rejected_reasons: Iterable[str]) -> None:
    """For the Google client: ``answered`` calls came back, these with an error (``quota`` when rate limited)."""
    API_CALLS.inc(answered)
    for reason in rejected_reasons:
        API_REJECTED.labels(reason=reason or "error").inc()
