"""Synchronizations the console starts in the background, watched by its progress page.

A run goes through the engine like any other (same lock, same history); this
module only holds its live progress in memory so the page can poll it. No Flask:
the console's views call it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..core.codes import RunOutcome
from ..core.errors import GoogleSyncError, RunLocked, UnsafePlan
from ..ops import notify
from ..reports import kept_plans
from ..settings import config
from ..state.store import Store

log = logging.getLogger(__name__)

KEEP_RUNS = 20
OUTCOME_TEXT: dict[str, str] = {  # by RunOutcome, a str
    RunOutcome.APPLIED: "Synchronization complete: every change was applied.",
    RunOutcome.PARTIAL: "Synchronization finished with errors: the changes marked below failed, the rest were applied.",
    RunOutcome.IN_SYNC: "Google was already in step with the directory: nothing to change.",
    RunOutcome.CHANGED: "Not applied: the plan changed since you previewed it.",
    RunOutcome.REFUSED: "Refused by a safety limit: nothing was written to Google.",
    RunOutcome.LOCKED: "Another synchronization is running: nothing was started.",
    RunOutcome.FAILED: "The synchronization failed: nothing more was written to Google.",
}


@dataclass
class ConsoleRun:
    id: str
    checksum: str
    force: bool
    planned: dict = field(default_factory=dict)  # action → count, from the preview
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    phase: str = "planning"  # planning → applying → finished
    done: int = 0
    total: int = 0
    outcome: str = ""  # a RunOutcome once finished
    message: str = ""
    run_id: int = 0
    # Its failures ({"action", "object", "ok", "message"}) and how many applied: every result is in the history,
    # and 20,000 of them need not stay in the web process's memory.
    results: list = field(default_factory=list)
    applied: int = 0
    warnings: list = field(default_factory=list)
    finished: datetime | None = None

    def progress(self, done: int, total: int) -> None:
        self.phase, self.done, self.total = "applying", done, total

    @property
    def is_finished(self) -> bool:
        return self.phase == "finished"

    @property
    def counts(self) -> dict[str, int]:
        return {"ok": self.applied, "failed": len(self.results)}

    @property
    def summary(self) -> str:
        return OUTCOME_TEXT.get(self.outcome, "")

    @property
    def data(self) -> dict:
        return {
            "id": self.id,
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
            "finished": self.is_finished,
            "outcome": self.outcome,
            "summary": self.summary,
            "message": self.message,
            "counts": self.counts,
            "run_id": self.run_id,
        }


class RunRegistry:
    """The console's background runs in this process, newest last."""

    def __init__(self, engine_factory=None):
        self._runs: dict[str, ConsoleRun] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._engine_factory = engine_factory or _engine

    def start(self, config_path: str, checksum: str, force: bool = False, planned: dict | None = None) -> ConsoleRun:
        run = ConsoleRun(id=secrets.token_urlsafe(9), checksum=checksum, force=force, planned=dict(planned or {}))
        with self._lock:
            self._runs[run.id] = run
            for old in list(self._runs)[:-KEEP_RUNS]:
                if self._runs[old].is_finished:
                    del self._runs[old]
            thread = threading.Thread(
                target=self._execute, args=(run, config_path), name=f"google-sync-console-{run.id}", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return run

    def get(self, run_id: str) -> ConsoleRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def active(self) -> ConsoleRun | None:
        with self._lock:
            return next((run for run in reversed(self._runs.values()) if not run.is_finished), None)

    def join(self, timeout: float = 30.0) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def _execute(self, run: ConsoleRun, config_path: str) -> None:
        engine = None
        try:
            engine = self._engine_factory(config_path)
            report = engine.sync(
                trigger="console", force=run.force, expected_checksum=run.checksum, progress=run.progress
            )
            run.run_id, run.outcome, run.message = report.run_id, report.outcome, report.message
            run.results = [result.data for result in report.results if not result.ok]
            run.applied = sum(1 for result in report.results if result.ok)
            if report.plan:
                run.warnings = [notice.data for notice in report.plan.notices if notice.level == "warning"]
        except UnsafePlan as error:
            run.outcome, run.message = RunOutcome.REFUSED, str(error)
        except RunLocked as error:
            run.outcome, run.message = RunOutcome.LOCKED, str(error)
        except GoogleSyncError as error:
            run.outcome, run.message = RunOutcome.FAILED, str(error)
        except Exception:  # noqa: BLE001  (the page must end, whatever happened; details go to the log)
            log.exception("console synchronization %s failed", run.id)
            run.outcome, run.message = (
                RunOutcome.FAILED,
                "an internal error stopped the run; the server log has the details",
            )
        finally:
            run.finished = datetime.now(UTC)
            run.phase = "finished"
            # After the page is told (a slow mail server must not hold it): installations without a worker hear of console runs too.
            store = getattr(engine, "store", None)
            if engine is not None and isinstance(store, Store):
                notify.check_quietly(engine.settings, store)
                if run.applied:
                    _keep_fresh_view(engine)
            _close(engine)


def _keep_fresh_view(engine) -> None:
    """Users and groups after a synchronization: read both sides again here, in the background, so a visit shows
    the result without waiting for the reads (meanwhile it shows the view before, saying it is older than the run)."""
    try:
        kept_plans.refresh_view(engine)
    except Exception:  # noqa: BLE001  (the page computes it itself then)
        log.warning("could not compute the Users and groups view after run %s", engine, exc_info=True)


def _engine(config_path: str):
    from ..sync.engine import SyncEngine  # noqa: PLC0415  (the engine pulls in the Google client; only a run needs it)

    return SyncEngine(config.load(config_path))


def _close(engine) -> None:
    if engine is None:
        return
    for part in (getattr(engine, "source", None), getattr(engine, "store", None)):
        close = getattr(part, "close", None)
        if close:
            try:
                close()
            except Exception:  # noqa: BLE001
                log.debug("closing %s failed", part, exc_info=True)
