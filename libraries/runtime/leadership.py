"""One active worker per domain: the worker holding the leader lock runs the scheduler and the watcher.

APScheduler cannot share one job store between several schedulers, and two
watchers would push every change twice. So workers on several servers (sharing
a PostgreSQL state database) elect one: whoever holds the leader lock. The others
stand by and try the lock every ``check_every`` seconds; the leader checks on the
same beat that it still holds it. When the leader's connection drops (the process
died, its server or network went away), PostgreSQL releases the lock and a
standby takes it on its next check; the old leader, if it still lives, learns on
its next check that it lost the lock and stops its duties.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from ..state.locks import Holder, identity

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0  # with the lock connection's keepalives (about 20 s), a standby takes over within 30 s


class Leadership:
    def __init__(self, lock):
        self.lock = lock
        self.leading = False

    def check(self) -> bool:
        """Called on every beat: True while this process leads (just elected, or still holding the lock)."""
        try:
            if self.leading and not self.lock.held():
                self.leading = False
                log.warning("this worker (%s) lost the %s: standing by", identity(), self.lock.describe())
            elif not self.leading and self.lock.acquire():
                self.leading = True
                log.info("this worker (%s) is now the active one (%s)", identity(), self.lock.describe())
        except SQLAlchemyError as error:  # the database is unreachable: nobody can be sure to lead, so stand by
            if self.leading:
                log.warning("this worker cannot reach the state database (%s): standing by", error.__class__.__name__)
            self.leading = False
            self.lock.release()
        return self.leading

    def holder(self) -> Holder | None:
        return self.lock.holder()

    def resign(self) -> None:
        self.leading = False
        self.lock.dispose()
