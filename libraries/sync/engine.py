"""One synchronization, start to end: read both sides, plan, check safety, apply, record.

Every trigger (command line, console, scheduler, background push) comes through
here, and one lock makes sure two runs never overlap, even across processes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from ..core import stopping
from ..core.codes import RunOutcome
from ..core.errors import GoogleSyncError, PlanChanged, RunLocked, UnsafePlan
from ..core.model import (
    DirectoryState,
    DirectoryUser,
    GoogleGroup,
    GoogleState,
    LeaverReads,
    Link,
    LinkState,
    PasswordHash,
)
from ..directory.ldap_source import LdapSource
from ..google.answers import ErrorKind, TargetError
from ..google.google_target import Backoff, GoogleTarget, required_scopes
from ..settings.config import Settings
from ..state import locks
from ..state.keys import installation_key
from ..state.store import HeldChange, Store, held_checksum, now
from . import offboarding, undo
from .executor import Executor, Progress, Result
from .json_output import lazy_list
from .plan import (
    Change,
    DeleteGroup,
    LinkedUserChange,
    MemberChange,
    Plan,
    RemoveMember,
    SuspendUser,
    UnsuspendUser,
    UpdateGroup,
    UpdateUser,
)
from .planner import Scope, build_plan, group_email, selected_groups, user_email, with_target_group
from .safety import Budget
from .transfers import TransferRunner

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 300.0  # seconds a run waits for another to finish
ACTIVE_ACCOUNTS = "active_accounts"  # the store value: active Google accounts at the last full read


@dataclass
class Report:
    """What a run did, for the command line, the console and the history."""

    plan: Plan | None = None
    results: list[Result] = field(default_factory=list)
    run_id: int = 0
    outcome: str = ""  # a RunOutcome
    message: str = ""

    @property
    def failures(self) -> list[Result]:
        return [result for result in self.results if not result.ok]

    @property
    def data(self) -> dict:
        return {
            "run_id": self.run_id,
            "outcome": self.outcome,
            "message": self.message,
            "plan": self.plan.data if self.plan else None,
            "results": [result.data for result in self.results],
        }

    @property
    def streamed_data(self) -> dict:
        """``data`` whose plan and results are made item by item as JSON is written (json_output.write)."""
        return {
            **self.data_head(),
            "plan": self.plan.streamed_data if self.plan else None,
            "results": lazy_list(result.data for result in self.results),
        }

    def data_head(self) -> dict:
        return {"run_id": self.run_id, "outcome": self.outcome, "message": self.message}


@dataclass(frozen=True)
class Snapshot:
    desired: DirectoryState
    links: LinkState
    existing: GoogleState | None = None
    plan: Plan | None = None
    google_error: GoogleSyncError | None = None


class SyncEngine:
    def __init__(
        self,
        settings: Settings,
        source=None,
        target=None,
        store: Store | None = None,
        retry_deadline: float | None = None,
        retry_base: float = 1.0,
        credentials=None,
    ):
        self.settings = settings
        self.store = store or Store(settings.sync.database)
        # Cleartext userPassword values are hashed with a salt derived from this key, so the hash is stable between runs.
        salt_key = installation_key(settings.sync.secrets_dir, "password_salt_key", self.store)
        self.password_key = installation_key(settings.sync.secrets_dir, "password_fingerprint_key", self.store)
        self.source = source or LdapSource(
            settings.ldap,
            salt_key,
            settings.attributes,
            settings.sync.org_units,
            settings.custom_attributes,
            settings.sources,
        )
        backoff = (
            Backoff(settings.sync.max_retries, retry_deadline, base=retry_base) if retry_deadline is not None else None
        )
        self.target = target or GoogleTarget(
            settings.google,
            settings.sync,
            credentials=credentials,
            scopes=required_scopes(settings),
            backoff=backoff,
            custom_fields=bool(settings.custom_attributes),
            licenses=settings.licenses,
        )

    # -- planning ----------------------------------------------------------------

    last_snapshot: Snapshot | None = None

    def compute_plan(self) -> Plan:
        """Read the directory (fails whole or not at all), then Google, then plan."""
        snapshot = self.snapshot()
        if snapshot.google_error:
            raise snapshot.google_error
        assert snapshot.plan is not None  # a snapshot without a Google error has its plan
        return snapshot.plan

    def snapshot(self) -> Snapshot:
        """Both sides as read and the plan between them; when Google cannot be read, what the directory and links say.

        A directory that cannot be read raises: without it there is nothing to show or plan.
        """
        desired = self.source.read_state()
        links = self.store.links()
        managed_ids = {link.google_id for link in links.links if link.kind == "group"}
        synchronized = selected_groups(with_target_group(desired, self.settings).groups, self.settings)
        wanted_emails = {group_email(group, self.settings.google.address_domain) for group in synchronized}
        try:
            existing = self.target.read_state(
                member_groups=lambda group: group["email"].lower() in wanted_emails or group["id"] in managed_ids,
                org_units=self.settings.manages_org_units,
            )
        except GoogleSyncError as error:
            return Snapshot(desired, links, google_error=error)
        # Pushes do not read the whole domain: a percentage max_suspend counts from the last full read.
        self.store.set_value(ACTIVE_ACCOUNTS, str(sum(not user.suspended for user in existing.users)))
        plan = self._planned(desired, existing, links, budget=self.budget())
        self.last_snapshot = Snapshot(
            desired, links, existing, plan
        )  # the console's Users and groups view is built from it too
        return self.last_snapshot

    def _planned(
        self,
        desired: DirectoryState,
        existing: GoogleState,
        links: LinkState,
        scope: Scope | None = None,
        budget: Budget = Budget(),
    ) -> Plan:
        """The plan; when it suspends leavers and [offboarding] needs more of them (tokens, app passwords, who receives
        their data), those are read and the plan made again with them. A failed read fails the plan: nobody is
        suspended half offboarded because Google could not be read."""

        def plan(existing: GoogleState) -> Plan:
            return build_plan(
                desired,
                existing,
                links,
                self.settings,
                scope=scope,
                password_key=self.password_key,
                budget=budget,
                offboarded=self.store.offboarded(),
                now=now(),
            )

        first = plan(existing)
        leaving = offboarding.leaving_accounts([*first.changes, *(held.change for held in first.held)])
        if not (self.settings.offboarding.reads and leaving):
            return first
        return plan(replace(existing, leavers=self._leaver_reads(existing, leaving)))

    def _leaver_reads(self, existing: GoogleState, leaving) -> LeaverReads:
        settings = self.settings.offboarding
        requests = {}
        for change in leaving:
            if settings.revoke_tokens:
                requests[f"tokens {change.google_id}"] = self.target.tokens.list(
                    userKey=change.google_id, fields="items(clientId,displayText)"
                )
            if settings.revoke_app_passwords:
                requests[f"asps {change.google_id}"] = self.target.asps.list(
                    userKey=change.google_id, fields="items(codeId,name)"
                )
        found: dict[str, dict[str, tuple]] = {"tokens": {}, "asps": {}}
        for key, outcome in self.target.batch(requests).items():
            kind, google_id = key.split(" ")
            if outcome.error is not None:
                what = "OAuth tokens" if kind == "tokens" else "app passwords"
                raise outcome.error.named(
                    f"cannot read the {what} of a leaver ({google_id}) for [offboarding]: {outcome.error}; nothing was changed"
                )
            items = (outcome.response or {}).get("items", [])
            found[kind][google_id] = tuple(
                (str(item["clientId"]), item.get("displayText", ""))
                if kind == "tokens"
                else (str(item["codeId"]), item.get("name", ""))
                for item in items
            )
        by_id = {account.id: account for account in existing.users}
        by_email = {account.primary_email: account for account in existing.users}
        accounts = [by_id[change.google_id] for change in leaving if change.google_id in by_id]
        receivers = {
            email: by_email[email] if email in by_email else self.target.read_user(email)
            for email in sorted(offboarding.receivers_wanted(self.settings, accounts))
        }
        return LeaverReads(tokens=found["tokens"], app_passwords=found["asps"], receivers=receivers)

    def budget(self) -> Budget:
        """What the limits have left: suspensions (max_suspend) and each group's member removals (max_member_removals)
        applied within suspend_window by every run and push count."""
        since = now() - timedelta(seconds=self.settings.sync.suspend_window)
        active = self.store.get_value(ACTIVE_ACCOUNTS)
        return Budget(
            self.store.count_applied(SuspendUser.action, since),
            int(active) if active else None,
            self.store.member_removals_by_group(RemoveMember.action, since),
        )

    def plan_user_push(
        self,
        uid: str,
        uuid: str = "",
        password: PasswordHash | None = None,
        budget: Budget | None = None,
        links: LinkState | None = None,
        user: DirectoryUser | None = None,
    ) -> Plan:
        """The plan for one user only: it reads that user on both sides, never the whole domain.

        ``links`` and ``user`` (the directory entry, read already) are given by a batch of pushes, which reads them
        for all its users at once."""
        links = self.store.links() if links is None else links
        user = user or self._pushed_user(uid, uuid)
        if user is not None and password is not None:
            user = replace(user, captured_password=password)
        link = self._user_link(links, user, uid, uuid)
        uuid = user.uuid if user else (link.uuid if link else uuid)
        accounts = self._accounts_for(link, user_email(user, self.settings.google.address_domain) if user else "")
        groups = self.source.read_groups_of(user) if user else ()
        desired = DirectoryState(users=(user,) if user else (), groups=groups)
        desired = self._with_manager(desired, user)
        org_units = self.target.read_org_units() if self.settings.manages_org_units else None
        existing = GoogleState(
            users=tuple(accounts.values()),
            groups=(),
            org_units=org_units,
            **self._domains(),
            **self._licences_of(accounts),
        )
        return self._planned(
            desired,
            existing,
            links,
            scope=Scope(user_uuids=frozenset({uuid})),
            budget=self._push_budget(budget, found_users=user is not None),
        )

    def _pushed_user(self, uid: str, uuid: str) -> DirectoryUser | None:
        user = self.source.read_user(uid) if uid else None
        if user is None and uuid:
            user = self.source.read_user_by_uuid(uuid)  # renamed since the change was seen
        return user

    def _with_manager(self, desired: DirectoryState, user: DirectoryUser | None) -> DirectoryState:
        """A pushed user's manager, read too (outside the push's scope), so its address is known."""
        if not (user and user.manager and self.settings.attributes.manager):
            return desired
        manager = self.source.read_user_by_dn(user.manager)
        return replace(desired, users=desired.users + (manager,)) if manager and manager.uuid != user.uuid else desired

    def _accounts_for(self, link: Link | None, email: str) -> dict:
        """The linked account, and the one holding the user's address when that is another (or none is linked)."""
        accounts = {}
        linked = self.target.read_user(link.google_id) if link else None
        if linked:
            accounts[linked.id] = linked
        if email and (linked is None or linked.primary_email != email):
            holder = self.target.read_user(email)
            if holder:
                accounts[holder.id] = holder
        return accounts

    def _user_link(self, links: LinkState, user: DirectoryUser | None, uid: str, uuid: str) -> Link | None:
        """The link of a pushed user; for one gone from the directory, found by uuid or its default address."""
        by_uuid = links.by_uuid("user")
        if user is not None or uuid in by_uuid:
            return by_uuid.get(user.uuid if user else uuid)
        default_email = f"{uid}@{self.settings.google.address_domain}"
        return next((link for link in by_uuid.values() if link.email == default_email), None)

    def plan_group_push(self, name: str, budget: Budget | None = None) -> Plan:
        """The plan for one group: its entry, its members' entries, and that group in Google."""
        group = self.source.read_group(name)
        if group is None:
            return Plan()
        links = self.store.links()
        link = links.by_uuid("group").get(group.uuid)
        resource = self.target.read_group(
            link.google_id if link else group_email(group, self.settings.google.address_domain)
        )
        existing_groups: tuple[GoogleGroup, ...] = ()
        if resource is not None:
            members = self.target.read_members([resource["id"]])[resource["id"]]
            existing_groups = (GoogleGroup.from_api(resource, members),)
        nested = tuple(found for child in sorted(group.member_groups) if (found := self.source.read_group(child)))
        desired = DirectoryState(users=self.source.read_users(sorted(group.member_uids)), groups=(group, *nested))
        scope = Scope(group_uuids=frozenset({group.uuid}))
        existing = GoogleState(users=(), groups=existing_groups, **self._domains())
        return build_plan(
            desired,
            existing,
            links,
            self.settings,
            scope=scope,
            password_key=self.password_key,
            budget=self._push_budget(budget, found_users=bool(desired.users) or not group.member_uids),
        )

    def _push_budget(self, budget: Budget | None, found_users: bool) -> Budget:
        """The budget of a push; when it found none of its users, whether the directory returns any user at all.

        A push reads a few entries, so it cannot tell "this user left" from "user_filter or users_dn now matches
        nothing" (an edit gone wrong, an ACL) the way a full run does, which refuses an empty directory: one more
        read of a single entry tells, and the push then holds what it would suspend or remove."""
        budget = budget or self.budget()
        if found_users or budget.lifted:
            return budget
        return replace(budget, directory_empty=not self.source.any_user())

    def _licences_of(self, accounts: dict) -> dict:
        """For a targeted push: which of these accounts hold the [licenses] SKU, asked one by one."""
        if not self.settings.licenses.product:
            return {}
        return {
            "licensed": frozenset(
                account.primary_email
                for account in accounts.values()
                if self.target.holds_license(account.primary_email)
            )
        }

    def _domains(self) -> dict:
        """For a targeted push: the account's domains, when they come from Google ([google] domains = *), and its
        custom schema fields when some are mapped."""
        read = {"custom_fields": self.target.read_custom_fields()} if self.settings.custom_attributes else {}
        if not self.settings.google.reads_domains:
            return read
        return {**self.target.read_domains(), **read}

    def test(self, trigger: str = "cli") -> Report:
        """A dry run: the plan and its warnings, no write to Google."""
        self._settle_interruptions()
        run_id = self.store.start_run(trigger, dry_run=True)
        try:
            plan = self.compute_plan()
        except GoogleSyncError as error:
            self.store.finish_run(run_id, RunOutcome.FAILED, message=str(error))
            raise
        outcome = RunOutcome.REFUSED if plan.refusals else (RunOutcome.IN_SYNC if plan.in_sync else RunOutcome.PENDING)
        self._forget_held_not_planned(plan)
        self.store.finish_run(run_id, outcome, plan.checksum, plan.counts(), "; ".join(plan.refusals))
        return Report(plan=plan, run_id=run_id, outcome=outcome, message="; ".join(plan.refusals))

    def _forget_held_not_planned(self, plan: Plan) -> None:
        """A held change the whole directory no longer calls for (the user was switched back on) is dropped."""
        planned = {(change.action, change.subject) for change in plan.changes}
        self.store.forget_held(
            [(held.action, held.object) for held in self.store.held() if (held.action, held.object) not in planned]
        )

    def held(self) -> list[HeldChange]:
        return self.store.held()

    # -- applying ----------------------------------------------------------------

    def sync(
        self, trigger: str = "cli", force: bool = False, expected_checksum: str = "", progress: Progress | None = None
    ) -> Report:
        """A full run: make Google match the whole directory."""
        return self._run(trigger, self.compute_plan, force, expected_checksum, progress)

    def push_user(
        self,
        uid: str,
        trigger: str = "push",
        password: PasswordHash | None = None,
        uuid: str = "",
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> Report:
        """A targeted push of one user after a change: O(1) API calls."""
        return self._run(
            trigger, lambda: self.plan_user_push(uid, uuid, password), lock_timeout=lock_timeout, push=("user", uid)
        )

    def push_group(self, name: str, trigger: str = "push", lock_timeout: float = LOCK_TIMEOUT) -> Report:
        """A targeted push of one group and its membership."""
        return self._run(trigger, lambda: self.plan_group_push(name), lock_timeout=lock_timeout, push=("group", name))

    def push_many(
        self, targets: list[PushTarget], trigger: str = "push", lock_timeout: float = LOCK_TIMEOUT
    ) -> PushBatch:
        """Several targeted pushes in one run, as the push queue drains: read together (the directory in a few
        searches, Google's accounts in one batch request), planned one by one, applied together.

        Each push keeps its own plan, results and errors (one that cannot be planned leaves the others). The
        safety limits apply to each push exactly as if the pushes ran one after the other: the budget each one
        plans with counts what the pushes planned before it in the batch would apply."""
        batch = PushBatch(list(targets))

        def plan() -> Plan:
            links = self.store.links()
            users = self._read_pushed_users(batch.targets)
            self._prefetch_accounts(batch.targets, users, links)
            budget = self.budget()
            for target in batch.targets:
                try:
                    if target.kind == "group":
                        planned = self.plan_group_push(target.name, budget)
                    else:
                        planned = self.plan_user_push(
                            target.name, target.uuid, target.password, budget, links, users.get(target.name.lower())
                        )
                except stopping.Stopped:
                    raise
                except GoogleSyncError as error:  # this push waits; the others go on
                    batch.errors[target.key] = error
                    continue
                batch.plans[target.key] = planned
                budget = _spent(budget, planned)
            if batch.errors and not batch.plans:  # nothing to run: the run says why
                raise next(iter(batch.errors.values()))
            return batch.combined()

        try:
            batch.report = self._run(trigger, plan, lock_timeout=lock_timeout, keep_held=batch.held_rows)
        except GoogleSyncError as error:  # the run as a whole: each push that has no error of its own keeps this one
            batch.failure = error
        return batch

    def _read_pushed_users(self, targets: list[PushTarget]) -> dict[str, DirectoryUser]:
        """The directory entries of the users pushed by name, in a few searches (uid, lower-cased → entry). A uid found
        other than once is left out: its push reads it alone, which says what is wrong."""
        uids = sorted({target.name for target in targets if target.kind == "user" and target.name})
        if len(uids) < 2:
            return {}
        found: dict[str, list[DirectoryUser]] = {}
        for user in self.source.read_users(uids):
            found.setdefault(user.uid.lower(), []).append(user)
        return {uid: entries[0] for uid, entries in found.items() if len(entries) == 1}

    def _prefetch_accounts(self, targets: list[PushTarget], users: dict[str, DirectoryUser], links: LinkState) -> None:
        """The Google accounts the user pushes will read, in batches: the linked accounts first, then the address of
        each user whose account is not linked or holds another address now (as plan_user_push reads them)."""
        if len(users) < 2:
            return
        by_uuid = links.by_uuid("user")
        domain = self.settings.google.address_domain
        linked = {user.uid: by_uuid[user.uuid].google_id for user in users.values() if user.uuid in by_uuid}
        if linked:
            self.target.prefetch_users(linked.values())
        emails = set()
        for user in users.values():
            email = user_email(user, domain)
            account = self.target.prefetched(linked[user.uid]) if user.uid in linked else None
            if account is None or account.primary_email != email:
                emails.add(email)
        if emails:
            self.target.prefetch_users(emails)

    def apply_held(self, trigger: str = "cli", expected_checksum: str = "") -> Report:
        """Apply what the safety limits held, on the administrator's say: each held entry is pushed again with the
        limits lifted for the held changes only (re-planned from both sides now, so what no longer applies is not
        done). What else the fresh read would suspend or remove past a limit is left out, not held here: its own
        push holds it, or the next run refuses it, for the administrator to see first.

        With ``expected_checksum`` (``store.held_checksum`` of the list the administrator saw), nothing is applied
        when the held set is no longer that one: PlanChanged. It is compared under the run lock, which every push
        that holds a change takes too."""

        def plan() -> Plan:
            waiting = self.store.held()
            if expected_checksum and held_checksum(waiting) != expected_checksum:
                raise PlanChanged(
                    f"the held changes changed since they were shown ({expected_checksum} → "
                    f"{held_checksum(waiting)}, {len(waiting)} held now); look at them again"
                )
            targets = sorted({(held.push_kind, held.push_name, held.scope) for held in waiting})
            approved = frozenset((held.action, held.object) for held in waiting)
            budget = replace(self.budget(), approved=approved)
            plans = [
                self.plan_group_push(name, budget)
                if kind == "group"
                else self.plan_user_push(name, uuid, budget=budget)
                for kind, name, uuid in targets
            ]
            return replace(sum(plans, Plan()), held=())

        return self._run(trigger, plan, force=True)

    def removed_groups(self, desired: DirectoryState | None = None) -> list[Link]:
        """Groups this tool synchronized that left the directory or the selection (left in Google as they are)."""
        desired = desired or self.source.read_state()
        selected = {
            group.uuid for group in selected_groups(with_target_group(desired, self.settings).groups, self.settings)
        }
        return [link for link in self.store.links().links if link.kind == "group" and link.uuid not in selected]

    def delete_group(self, email: str, trigger: str = "console") -> Report:
        """Delete, on an administrator's confirmed request, a group this tool created and no longer synchronizes."""
        link = next((link for link in self.removed_groups() if link.email == email.lower()), None)
        if link is None:
            raise GoogleSyncError(
                f"{email} is still synchronized, or was never synchronized by this tool: it is not deleted"
            )
        if not link.created_by_us:
            raise GoogleSyncError(
                f"{email} existed in Google before this tool adopted it: delete it in the Google Admin console if you must"
            )
        report = self._run(
            trigger, lambda: Plan(changes=(DeleteGroup(uuid=link.uuid, email=link.email, google_id=link.google_id),))
        )
        if not report.failures:
            self.store.delete_link(link)
        return report

    def _run(
        self,
        trigger: str,
        make_plan,
        force: bool = False,
        expected_checksum: str = "",
        progress: Progress | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
        push: tuple[str, str] | None = None,
        note: str = "",
        from_directory: bool = True,
        keep_held: Callable[[Plan], tuple[list[dict], set[str] | None]] | None = None,
    ) -> Report:
        with self.lock(lock_timeout) as run_lock:
            self.store.mark_interrupted(lock_held=True)
            self.reconcile()
            run_id = self.store.start_run(trigger, dry_run=False)
            try:
                report = self._apply(
                    run_id, make_plan(), force, expected_checksum, progress, from_directory, run_lock.held
                )
            except GoogleSyncError as error:
                outcome = RunOutcome.REFUSED if isinstance(error, UnsafePlan) else RunOutcome.FAILED
                if isinstance(error, PlanChanged):  # like a plan whose checksum changed: nothing written, not a failure
                    outcome = RunOutcome.CHANGED
                if isinstance(error, stopping.Stopped):  # a clean stop mid-run: said as such, never left 'running'
                    outcome = RunOutcome.INTERRUPTED
                self.store.finish_run(run_id, outcome, message=_noted(note, str(error)))
                raise
            except Exception as error:  # a bug: the results recorded so far stay, the run says it failed
                self.store.finish_run(
                    run_id,
                    RunOutcome.FAILED,
                    message=f"internal error: {error.__class__.__name__}; the log has the details",
                )
                raise
            plan = report.plan
            assert plan is not None  # _apply reports the plan it applied
            if report.outcome != RunOutcome.CHANGED:
                self._keep_held(run_id, plan, push, keep_held)
            if plan.held and report.outcome in (RunOutcome.IN_SYNC, RunOutcome.APPLIED):
                report = replace(
                    report,
                    outcome=RunOutcome.HELD,
                    message=f"{len(plan.held)} change(s) held for approval (a safety limit)",
                )
            self.store.finish_run(
                run_id, report.outcome, plan.checksum, _result_counts(report.results), _noted(note, report.message)
            )
            return report

    def _keep_held(self, run_id: int, plan: Plan, push: tuple[str, str] | None, rows=None) -> None:
        """Record what this run held, in place of what was held before for the entries it planned. ``rows`` gives
        them for a batch of pushes (each held change named with the push that releases it)."""
        kind, name = push or ("", "")
        held, scopes = (
            rows(plan)
            if rows
            else (
                [{**held.data, "push_kind": kind, "push_name": name} for held in plan.held],
                set(plan.covers) if plan.covers is not None else None,
            )
        )
        for each in plan.held:
            log.warning("held for approval: %s %s: %s", each.change.action, each.change.subject, each.reason)
        self.store.hold(run_id, held, scopes)

    def _apply(
        self,
        run_id: int,
        plan: Plan,
        force: bool,
        expected_checksum: str,
        progress: Progress | None,
        from_directory: bool = True,
        still_locked=lambda: True,
    ) -> Report:
        if expected_checksum and plan.checksum != expected_checksum:
            message = f"the plan changed since it was previewed ({expected_checksum} → {plan.checksum}); run the test synchronization again"
            return Report(plan=plan, run_id=run_id, outcome=RunOutcome.CHANGED, message=message)
        plan.raise_if_unsafe(force)
        if plan.in_sync:
            return Report(plan=plan, run_id=run_id, outcome=RunOutcome.IN_SYNC)
        log.info("applying plan %s: %s", plan.checksum, plan.counts())
        executor = Executor(
            self.target,
            progress,
            self.settings.sync.change_password_at_next_login,
            journal=RunJournal(self.store, run_id, still_locked),
            links=self.store.links(),
            confirm_suspension=self._suspension_doubt if from_directory else None,
        )
        results = executor.apply(plan)
        failures = sum(not result.ok for result in results)
        outcome = RunOutcome.PARTIAL if failures else RunOutcome.APPLIED
        message = f"{failures} of {len(results)} changes failed" if failures else ""
        if executor.stopped:
            message = f"{message}: {executor.stopped}"
        return Report(plan=plan, results=results, run_id=run_id, outcome=outcome, message=message)

    def _suspension_doubt(self, change: LinkedUserChange) -> str:
        """Read the entry again, by entryUUID, just before its account is suspended: why not to, or "".

        A directory read that was partial or stale for a moment must never suspend anyone.
        """
        if not change.uuid:  # an account with no directory entry (unmanaged_accounts = suspend)
            return ""
        try:
            user = self.source.read_user_by_uuid(change.uuid)
            if user is None or user.locked:
                return ""
            enabled = user.in_scope or (
                self.settings.sync.create_missing_members
                and any(selected_groups(self.source.read_groups_of(user), self.settings))
            )
        except GoogleSyncError as error:
            return f"the directory could not be read again to confirm it ({error}); the next run decides again"
        if enabled:
            return f"directory user {user.uid} is present and enabled after all (read again just before suspending)"
        return ""

    # -- [offboarding] transfers ---------------------------------------------------------

    def run_transfers(self, moment=None, lock_timeout: float = LOCK_TIMEOUT) -> list[str]:
        """Start the data transfers that are due and read back those running (under the run lock, so that two
        processes never start one twice). ``moment``: now, unless a test says otherwise."""
        if (
            not self.settings.offboarding.transfer_data_to
        ):  # switched off: what was scheduled waits, as the Leavers view shows
            return []
        with self.lock(lock_timeout):
            return TransferRunner(self.store, self.target, self.settings.offboarding).run(moment or now())

    # -- undo ------------------------------------------------------------------------

    def plan_undo(self, run_id: int, force_budget: bool = False) -> Plan:
        """The inverse of what run ``run_id`` applied, against Google as it is now (see undo.py)."""
        run = self.store.run(run_id)
        if run is None:
            raise GoogleSyncError(f"there is no run {run_id}: 'google-sync status' lists the runs")
        if run.dry_run:
            raise GoogleSyncError(
                f"run {run_id} was a test synchronization: it changed nothing in Google, there is nothing to undo"
            )
        if run.outcome == RunOutcome.RUNNING and run_id not in self.notice_interrupted():
            raise GoogleSyncError(
                f"run {run_id} is still running: undo it once it has finished ('google-sync status' shows it)"
            )
        applied, notices = undo.applied_changes(self.store.results(run_id))
        inverse, more = undo.inverses(applied)
        user_ids = {
            change.google_id
            for change in inverse
            if isinstance(change, (SuspendUser, UnsuspendUser, UpdateUser)) and change.google_id
        }
        group_ids = {change.google_id for change in inverse if isinstance(change, UpdateGroup) and change.google_id}
        users, groups = self.target.read_by_id(user_ids, group_ids)
        members = {
            email: self.target.read_members_of(email)
            for email in sorted({change.group_email for change in inverse if isinstance(change, MemberChange)})
        }
        posting = {link.uuid: link.posting_policy for link in self.store.links().links if link.kind == "group"}
        return undo.plan_undo(
            run_id,
            inverse,
            notices + more,
            undo.Now(users, groups, members, posting),
            self.settings.sync,
            self.budget(),
        )

    def undo(
        self,
        run_id: int,
        force: bool = False,
        expected_checksum: str = "",
        trigger: str = "cli",
        progress: Progress | None = None,
    ) -> Report:
        """Apply the undo of run ``run_id``: itself a run in the history, which can be undone in turn."""
        # The administrator asked to put Google back as it was, whatever the directory says: no confirming read.
        return self._run(
            trigger,
            lambda: self.plan_undo(run_id),
            force,
            expected_checksum,
            progress,
            note=f"undo of run {run_id}",
            from_directory=False,
        )

    # -- after an interruption -------------------------------------------------------

    def _settle_interruptions(self) -> None:
        """Before a dry run: what an interrupted run did is confirmed, so the preview plans from the truth."""
        try:
            with self.lock(timeout=0):
                self.store.mark_interrupted(lock_held=True)
                self.reconcile()
        except RunLocked:
            self.store.mark_interrupted(lock_held=False)
        except TargetError as error:
            log.warning("%s; the preview may show again what that run did", error)

    def notice_interrupted(self) -> list[int]:
        """Mark runs whose process died as interrupted, when no run holds the lock (for status and the console)."""
        try:
            with self.lock(timeout=0):
                return self.store.mark_interrupted(lock_held=True)
        except RunLocked:
            return self.store.mark_interrupted(lock_held=False)

    def reconcile(self) -> int:
        """Changes sent by a run that died before their answer was recorded: read Google to learn whether each
        took effect, record that (links included) against that run, and let planning redo the rest.

        Returns how many were found applied. A read that fails leaves them for the next run: nothing is guessed.
        """
        intents = self.store.unanswered()
        if not intents:
            return 0
        reads = {str(intent.id): self._proof_read(intent.proof) for intent in intents}
        outcomes = self.target.batch(reads)
        by_run: dict[int, list] = {}
        for intent in intents:
            by_run.setdefault(intent.run_id, []).append(intent)
        applied = 0
        for run_id, of_run in sorted(by_run.items()):
            results, links = [], []
            for intent in of_run:
                observed = _observed(outcomes[str(intent.id)], intent)
                took_effect = observed is not None and _shows(observed, intent.proof["expect"])
                applied += took_effect
                if took_effect and intent.link and observed is not None:
                    links.append(replace(intent.link, google_id=observed["id"]))
                note = RECONCILED_APPLIED if took_effect else RECONCILED_NOT_APPLIED
                results.append({"action": intent.action, "object": intent.object, "ok": took_effect, "message": note})
            self.store.record_batch(run_id, results, links, [intent.id for intent in of_run])
        log.info(
            "reconciled %d change(s) left unanswered by an interrupted run: %d had been applied", len(intents), applied
        )
        return applied

    def _proof_read(self, proof: dict):
        if proof["read"] == "group":
            return self.target.groups.get(groupKey=proof["key"], fields="id,email")
        return self.target.users.get(userKey=proof["key"], fields="id,primaryEmail,suspended")

    def lock(self, timeout: float = LOCK_TIMEOUT):
        """The run lock: manual, scheduled and pushed runs never overlap (on every server sharing a PostgreSQL state)."""
        return locks.holding(locks.run_lock(self.settings.sync.state_dir, self.store.engine.url), timeout)


RECONCILED_APPLIED = "applied (confirmed after the run was interrupted: Google had done it, its answer was lost)"
RECONCILED_NOT_APPLIED = "not applied (the run was interrupted before Google answered); planned again"


class RunJournal:
    """The executor's journal, kept in the store against one run; before each batch it makes sure the run still
    holds its lock (a PostgreSQL advisory lock goes with its connection): without it another run may start."""

    def __init__(self, store: Store, run_id: int, still_locked=lambda: True):
        self.store, self.run_id, self.still_locked = store, run_id, still_locked

    def sending(self, intents: list[dict]) -> list[int]:
        stopping.check()  # the worker is stopping: no new batch (what was sent is recorded, the rest is planned again)
        if not self.still_locked():
            raise RunLocked(
                "the run lost its lock (the connection holding it broke) and stops before its next batch, "
                "so that two runs never overlap; what it applied so far is recorded: run it again"
            )
        return self.store.journal_sent(self.run_id, intents) if intents else []

    def answered(self, results: list[Result], intents: list[int]) -> None:
        links = [result.link for result in results if result.ok and result.link is not None]
        self.store.record_batch(
            self.run_id, [result.data for result in results], links, intents, _offboarding_facts(results)
        )


def _offboarding_facts(results: list[Result]) -> list[dict]:
    """What the Leavers records keep of these results: each applied [offboarding] change, with its leaver."""
    facts = []
    for result in results:
        change = result.change
        if not (result.ok and isinstance(change, LinkedUserChange)):
            continue
        if (fact := change.offboarding_fact()) is not None:
            facts.append(
                {
                    **fact,
                    "google_id": change.google_id,
                    "uuid": change.uuid,
                    "email": change.email,
                    "departure": change.follows_suspension,
                }
            )
    return facts


def _observed(outcome, intent) -> dict | None:
    """The object as Google shows it now; None when it does not exist. Any other failure: try again later."""
    if outcome.ok:
        return outcome.response
    if outcome.error.kind is ErrorKind.NOT_FOUND:
        return None
    raise outcome.error.named(
        f"cannot confirm what an interrupted run did ({intent.action} {intent.object}): {outcome.error}"
    )


def _shows(observed: dict, expect: dict) -> bool:
    def same(left, right) -> bool:
        return left.lower() == right.lower() if isinstance(left, str) and isinstance(right, str) else left == right

    return all(same(observed.get(name), value) for name, value in expect.items())


def _noted(note: str, message: str) -> str:
    return ": ".join(part for part in (note, message) if part)


def _result_counts(results: list[Result]) -> dict[str, int]:
    counts = {"ok": 0, "failed": 0}
    for result in results:
        counts["ok" if result.ok else "failed"] += 1
    return counts


@dataclass(frozen=True)
class PushTarget:
    """One queued push of a batch: ``key`` names its queue row."""

    key: str
    kind: str  # user or group
    name: str
    uuid: str = ""
    password: PasswordHash | None = None


@dataclass
class PushBatch:
    """A batch of pushes run together: each push's plan and errors, and the run's report."""

    targets: list[PushTarget]
    plans: dict[str, Plan] = field(default_factory=dict)
    errors: dict[str, GoogleSyncError] = field(default_factory=dict)
    report: Report | None = None
    failure: GoogleSyncError | None = None  # why the run as a whole did not happen or stopped
    _owners: dict[int, list[str]] = field(
        default_factory=dict
    )  # id of a planned change -> keys of the pushes that planned it

    def combined(self) -> Plan:
        """The pushes' plans as one; a change two pushes plan alike (a membership seen from the user and from the
        group) is sent once, and belongs to both."""
        changes: list[Change] = []
        seen: dict[str, Change] = {}
        for key, plan in self.plans.items():
            for change in plan.changes:
                same = seen.setdefault(_change_identity(change), change)
                if same is change:
                    changes.append(change)
                self._owners.setdefault(id(same), []).append(key)
        plans = list(self.plans.values())
        covers = frozenset().union(*(plan.covers or () for plan in plans))
        return Plan(
            tuple(changes),
            tuple(n for plan in plans for n in plan.notices),
            (),
            tuple(h for plan in plans for h in plan.held),
            covers,
        )

    def held_rows(self, _plan: Plan) -> tuple[list[dict], set[str]]:
        """What each push held, named with that push (to release it), and the entries the pushes speak for."""
        by_key = {target.key: target for target in self.targets}
        rows = [
            {**held.data, "push_kind": by_key[key].kind, "push_name": by_key[key].name}
            for key, plan in self.plans.items()
            for held in plan.held
        ]
        return rows, set().union(*(plan.covers or () for plan in self.plans.values()))

    def results_of(self, key: str) -> list[Result]:
        results = self.report.results if self.report else []
        return [result for result in results if key in self._owners.get(id(result.change), ())]


def _change_identity(change) -> str:
    return json.dumps([type(change).__name__, change.data], sort_keys=True, default=str)


def _spent(budget: Budget, plan: Plan) -> Budget:
    """The budget after this plan's suspensions and member removals, for the next push of the same batch."""
    approved = budget.approved
    suspended = sum(
        isinstance(change, SuspendUser) and (change.action, change.subject) not in approved for change in plan.changes
    )
    removed = dict(budget.removed_recently)
    for change in plan.changes:
        if isinstance(change, RemoveMember) and (change.action, change.subject) not in approved:
            removed[change.group_email.lower()] = removed.get(change.group_email.lower(), 0) + 1
    return replace(budget, suspended_recently=budget.suspended_recently + suspended, removed_recently=removed)
