"""Writes of the sync engine: running flows, locks, cursors and the exception queue.

Seller accounts belong to ``marketplaces`` (above the engine): the runner reaches them
through the account directory it registers (``amazonsync.accounts``), and the context a
flow runs in is the one the flow was registered with (``amazonsync.registry.Flow.context``),
so this module imports neither the app nor ``amazonsync.flows``.
"""

from __future__ import annotations

import datetime
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from .accounts import KEY_CHANGED, accounts
from .crypto import redact_secrets, redact_value
from .models import Severity, SyncCursor, SyncException, SyncLock, SyncRun, Team
from .permissions import ExceptionOwnershipError, user_teams
from .problems import group_key
from .registry import Flow, get_flow
from .selectors import exceptions_outside_teams
from .severity import RANK, classify, due
from .spapi.errors import AuthError

log = logging.getLogger(__name__)

LOCK_TTL = datetime.timedelta(minutes=30)


INTERRUPTED = "interrupted"


class CursorOutsideTransaction(RuntimeError):
    """A cursor may only move in the transaction that stores what was read."""


class RunInterrupted(BaseException):
    """SIGTERM while a flow ran, raised in the flow so ``flow_run`` marks the run and frees
    its lock before the process exits; like KeyboardInterrupt, ``except Exception`` (in a
    flow, in django-q2's worker) does not swallow it."""


# --- exception queue -----------------------------------------------------------------------


def exception_record(
    *,
    flow: str,
    object_kind: str,
    object_key: str,
    reason_code: str,
    message: str,
    owner_team: str,
    account: Any | None = None,
    marketplace: Any | None = None,
    payload: dict | None = None,
    run: SyncRun | None = None,
    severity: str | None = None,
    depends_on: SyncException | None = None,
) -> SyncException:
    """Open (or refresh) the exception for an object and reason.

    A failure that recurs updates the same row: new message and payload, one more
    occurrence, and it is reopened if it had been resolved. An ignored exception stays
    ignored. Message and payload are stored without secrets (``redact_secrets``): they
    often carry an external service's error text, and ops read them.
    """
    now = timezone.now()
    message = redact_secrets(message)
    payload = redact_value(payload) if payload else payload
    key = {
        "flow": flow,
        "object_kind": object_kind,
        "object_key": object_key[:255],
        "reason_code": reason_code,
    }
    group = group_key(
        **key, account_key=getattr(account, "selling_partner_id", "") or "",
        marketplace_keys=(marketplace.code, marketplace.pk) if marketplace is not None else (),
    )
    for _ in range(3):
        try:
            with transaction.atomic():
                existing = SyncException.objects.select_for_update().filter(**key).first()
                if existing is None:
                    level = severity or classify(object_kind, reason_code)
                    return SyncException.objects.create(
                        **key,
                        account=account,
                        marketplace=marketplace,
                        message=message,
                        payload=payload or {},
                        owner_team=owner_team,
                        severity=level,
                        severity_rank=RANK[level],
                        due_at=due(level, now),
                        depends_on=depends_on,
                        first_seen=now,
                        last_seen=now,
                        last_run=run,
                        group_key=group,
                    )
                existing.message = message
                existing.payload = payload or {}
                existing.last_seen = now
                existing.occurrences = F("occurrences") + 1
                existing.last_run = run or existing.last_run
                if depends_on is not None:
                    existing.depends_on = depends_on
                if existing.status in (
                    SyncException.Status.RESOLVED,
                    SyncException.Status.RETRYING,
                ):
                    existing.status = SyncException.Status.OPEN
                    existing.resolved_at = None
                    existing.resolved_by = None
                    existing.resolved_cause = ""
                existing.group_key = existing.group_key or group
                existing.save()
                existing.refresh_from_db()
                return existing
        except IntegrityError:
            continue  # another process created it first: update that row
    raise RuntimeError(f"could not record exception {key}")


def exception_resolve(
    *,
    flow: str,
    object_kind: str,
    object_key: str,
    reason_code: str | None = None,
    note: str = "resolved automatically: the object was applied",
    actor=None,
    cause: str = "",
) -> int:
    """Resolve the open exceptions of an object once a flow applied it.

    The system resolves them; ``cause`` says what did ("mapping saved") and ``actor`` whose
    action it was (the person who saved the mapping), shown as "system (mapping saved by
    ops)". Without a cause, the note's words are the cause.
    """
    qs = SyncException.objects.filter(
        flow=flow,
        object_kind=object_kind,
        object_key=object_key,
        status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING],
    )
    if reason_code is not None:
        qs = qs.filter(reason_code=reason_code)
    ids = list(qs.values_list("pk", flat=True))
    n = SyncException.objects.filter(pk__in=ids).update(
        status=SyncException.Status.RESOLVED, resolved_at=timezone.now(), resolution_note=note,
        resolved_by=actor, manual_fix=False,
        resolved_cause=(cause or note.removeprefix("resolved: ")
                        .removeprefix("resolved automatically: "))[:120],
    )
    dependents_retry(resolved_ids=ids)
    return n


MANUAL_NOTE = "resolved by hand"

_ACTIVE = (SyncException.Status.OPEN, SyncException.Status.RETRYING)


def _ensure_owner(*, exception_ids: list[int], user, verb: str, statuses) -> None:
    """Refuse the whole call when a human touches exceptions of a team they do not work.

    Exceptions are resolved or ignored by their owning team only (or a superuser). Who
    works which team comes from the groups (``amazonsync.permissions.GROUP_TEAMS``): Ops
    works ops and merch exceptions (it fixes the mappings behind merch ones), Accounting
    works finance ones. ``user=None`` is the system itself (a flow, a command): allowed.
    Only the rows the call would change are checked.
    """
    if user is None:
        return
    refused = exceptions_outside_teams(
        exception_ids=exception_ids, teams=user_teams(user), statuses=statuses
    )
    if refused:
        raise ExceptionOwnershipError(verb=verb, refused=refused)


def exceptions_resolve(*, exception_ids: Iterable[int], user, note: str = "") -> int:
    """Mark exceptions fixed by hand; their dependents are retried.

    Only by their owning team or a superuser: Ops works ops and merch exceptions,
    Accounting finance ones (``amazonsync.permissions.GROUP_TEAMS``); one exception of
    another team refuses the whole call with ``ExceptionOwnershipError`` naming the team
    (see ``_ensure_owner``). ``user=None`` is the system itself.
    """
    ids = list(exception_ids)
    with transaction.atomic():
        _ensure_owner(exception_ids=ids, user=user, verb="resolve", statuses=_ACTIVE)
        qs = SyncException.objects.filter(pk__in=ids, status__in=_ACTIVE)
        ids = list(qs.values_list("pk", flat=True))
        n = SyncException.objects.filter(pk__in=ids).update(
            status=SyncException.Status.RESOLVED,
            resolved_at=timezone.now(),
            resolved_by=user,
            resolution_note=note or MANUAL_NOTE,
            resolved_cause="",
            manual_fix=True,
        )
    dependents_retry(resolved_ids=ids)
    return n


def exceptions_assign(*, exception_ids: Iterable[int], assignee) -> int:
    return SyncException.objects.filter(pk__in=list(exception_ids)).update(assignee=assignee)


def dependents_retry(*, resolved_ids: Iterable[int]) -> RetryOutcome:
    """Retry the open exceptions that were waiting on the given (now resolved) ones."""
    ids = list(resolved_ids)
    if not ids:
        return RetryOutcome()
    waiting = list(
        SyncException.objects.filter(
            depends_on_id__in=ids,
            status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING],
        ).values_list("pk", flat=True)
    )
    if not waiting:
        return RetryOutcome()
    return exceptions_retry(exception_ids=waiting)


def exceptions_ignore(*, exception_ids: Iterable[int], user, note: str) -> int:
    """Ignore exceptions for a written reason; they stay ignored if the problem recurs.

    Only by their owning team or a superuser, as ``exceptions_resolve``.
    """
    if not note or not note.strip():
        raise ValueError("A note is required to ignore an exception: say why it is safe to.")
    ids = list(exception_ids)
    with transaction.atomic():
        _ensure_owner(exception_ids=ids, user=user, verb="ignore",
                      statuses=[s for s in SyncException.Status if s != "ignored"])
        return SyncException.objects.filter(
            pk__in=ids,
        ).exclude(status=SyncException.Status.IGNORED).update(
            status=SyncException.Status.IGNORED,
            resolved_at=timezone.now(),
            resolved_by=user,
            resolved_cause="",
            resolution_note=note.strip(),
        )


# Retry handlers: object_kind -> callable(exception) -> bool (True when the cause is gone).
RetryHandler = Callable[[SyncException], bool]
_RETRY_HANDLERS: dict[str, RetryHandler] = {}


def register_retry(object_kind: str) -> Callable[[RetryHandler], RetryHandler]:
    def decorator(func: RetryHandler) -> RetryHandler:
        _RETRY_HANDLERS[object_kind] = func
        return func

    return decorator


@dataclass
class RetryOutcome:
    resolved: int = 0
    still_open: int = 0
    errors: int = 0


def _retry_by_rerunning_flow(exc: SyncException) -> bool:
    """Default retry: run the flow again for the exception's account and marketplace."""
    if exc.account_id is None:
        return False
    try:
        get_flow(exc.flow)
    except KeyError:
        return False
    started = timezone.now()
    run = flow_run(
        flow=exc.flow,
        account_id=exc.account_id,
        marketplace_id=exc.marketplace_id,
        trigger=SyncRun.Trigger.RETRY,
    )
    exc.refresh_from_db()
    return run.status == SyncRun.Status.SUCCEEDED and exc.last_seen < started


def exceptions_retry(*, exception_ids: Iterable[int], user=None) -> RetryOutcome:
    """Retry exceptions: each through its kind's handler, else by re-running its flow."""
    outcome = RetryOutcome()
    ids = list(exception_ids)
    for exc in SyncException.objects.filter(
        pk__in=ids, status__in=[SyncException.Status.OPEN, SyncException.Status.RETRYING]
    ).order_by("pk"):
        SyncException.objects.filter(pk=exc.pk).update(
            status=SyncException.Status.RETRYING, attempts=F("attempts") + 1
        )
        exc.refresh_from_db()
        handler = _RETRY_HANDLERS.get(exc.object_kind, _retry_by_rerunning_flow)
        try:
            fixed = handler(exc)
        except Exception as err:  # the handler's failure is the exception's new message
            log.warning("retry of exception %s failed: %s", exc.pk, err)
            SyncException.objects.filter(pk=exc.pk).update(
                status=SyncException.Status.OPEN,
                message=redact_secrets(f"retry failed: {err}")[:2000],
            )
            outcome.errors += 1
            continue
        exc.refresh_from_db()
        if fixed and exc.status == SyncException.Status.RETRYING:
            SyncException.objects.filter(pk=exc.pk).update(
                status=SyncException.Status.RESOLVED,
                resolved_at=timezone.now(),
                resolved_by=user,
                resolved_cause="retried",
                resolution_note="resolved by retry",
            )
            outcome.resolved += 1
            dependents_retry(resolved_ids=[exc.pk])
        elif exc.status == SyncException.Status.RESOLVED:
            outcome.resolved += 1
        else:
            SyncException.objects.filter(
                pk=exc.pk, status=SyncException.Status.RETRYING
            ).update(status=SyncException.Status.OPEN)
            outcome.still_open += 1
    return outcome


# --- cursors -------------------------------------------------------------------------------


def in_transaction() -> bool:
    return transaction.get_connection().in_atomic_block


def cursor_advance(
    *,
    flow: str,
    account: Any,
    scope: str,
    position: datetime.datetime | None = None,
    token: str | None = None,
    at: datetime.datetime | None = None,
) -> SyncCursor:
    """Move a watermark. Must run inside the transaction that stores what was read, so a
    failure after reading leaves the cursor where it was. ``at`` is when, on the flow's
    clock (``FlowContext.now``), so gaps are measured with one clock; default: now."""
    if not in_transaction():
        raise CursorOutsideTransaction(
            "advance the cursor inside the transaction that stores the data it covers"
        )
    cursor, _ = SyncCursor.objects.select_for_update().get_or_create(
        flow=flow, account=account, scope=scope
    )
    if position is not None:
        cursor.position = position
    if token is not None:
        cursor.token = token
    cursor.save()
    if at is not None:
        SyncCursor.objects.filter(pk=cursor.pk).update(updated_at=at)
        cursor.updated_at = at
    return cursor


# --- locks ---------------------------------------------------------------------------------


def _holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def lock_claim(*, flow: str, account: Any, scope: str, run: SyncRun) -> str | None:
    """Claim the run lock with a conditional UPDATE; returns the holder id or None.

    A lock whose holder died (kill -9) expires after LOCK_TTL.
    """
    lock, _ = SyncLock.objects.get_or_create(flow=flow, account=account, scope=scope)
    holder = _holder_id()
    now = timezone.now()
    abandoned_run_id = lock.run_id if lock.holder and lock.expires_at and lock.expires_at < now \
        else None
    claimed = (
        SyncLock.objects.filter(flow=flow, account=account, scope=scope)
        .filter(Q(holder="") | Q(expires_at__lt=now))
        .update(holder=holder, expires_at=now + LOCK_TTL, run=run)
    )
    if claimed != 1:
        return None
    if abandoned_run_id is not None:
        # The previous holder died (kill -9, lost machine): its run never finished.
        _runs_fail_abandoned(
            run_ids=[abandoned_run_id], at=now,
            error="the worker running this flow stopped without finishing (lock expired); "
                  "the next run took over",
        )
    return holder


def _runs_fail_abandoned(*, run_ids: Iterable[int], error: str, at: datetime.datetime) -> int:
    """Mark failed the runs among ``run_ids`` still RUNNING whose process is known to be gone
    (it cannot finish them itself)."""
    return SyncRun.objects.filter(pk__in=list(run_ids), status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED, finished_at=at, error=error,
    )


def runs_mark_interrupted(
    *, host: str, pids: Iterable[int], started_after: datetime.datetime | None = None
) -> list[int]:
    """Fail ("interrupted") the runs still RUNNING on ``host`` in one of ``pids`` and free
    their locks at once (not after LOCK_TTL); returns their ids. The safety net for workers
    SIGKILLed before they could mark their run: give only pids known to be dead (``runall``
    gives its dead process tree's) and when they started, to rule out a reused pid's run."""
    pids = sorted(set(pids))
    if not pids:
        return []
    with transaction.atomic():
        runs = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, host=host, pid__in=pids)
        if started_after is not None:
            runs = runs.filter(started_at__gte=started_after)
        run_ids = list(runs.values_list("pk", flat=True))
        if not run_ids:
            return []
        _runs_fail_abandoned(run_ids=run_ids, error=INTERRUPTED, at=timezone.now())
        # A lock whose run is one of these is held by the dead process: free it now.
        SyncLock.objects.filter(run_id__in=run_ids).exclude(holder="").update(
            holder="", expires_at=None
        )
    log.warning("runs %s on %s were cut short (process gone): marked failed, locks freed",
                run_ids, host)
    return run_ids


def lock_release(*, flow: str, account: Any, scope: str, holder: str) -> None:
    SyncLock.objects.filter(flow=flow, account=account, scope=scope, holder=holder).update(
        holder="", expires_at=None
    )


# --- running flows -------------------------------------------------------------------------


def flow_targets(
    *, flow: Flow, account_id: int | None = None, marketplace_code: str | None = None
) -> list[tuple[Any, Any | None]]:
    """(account, marketplace) pairs a flow runs for: active accounts, switched-on
    marketplaces, narrowed by the given account and marketplace (the account directory
    answers: ``marketplaces.selectors.flow_targets``)."""
    return accounts().targets(flow=flow, account_id=account_id,
                              marketplace_code=marketplace_code)


def flow_run(
    *,
    flow: str,
    account_id: int,
    marketplace_id: str | None = None,
    trigger: str = SyncRun.Trigger.MANUAL,
    queued: SyncRun | None = None,
) -> SyncRun:
    """Run one flow for one account (and marketplace) and record it as a SyncRun.

    Never raises for a flow failure: the run is marked failed and the failure is queued as
    an exception. Two concurrent calls for the same target: one runs, the other is recorded
    as skipped. The steps: record the run, refuse it for an account that may not run, claim
    the lock (else skipped), run the flow under it (``_run_locked``). ``queued`` is a run
    recorded when someone asked for it (``amazonsync.runs.run_enqueue``): it becomes this
    run, so the person follows the row they were shown.
    """
    spec = get_flow(flow)
    directory = accounts()
    account = directory.account(account_id)
    marketplace = directory.marketplace(marketplace_id) if marketplace_id else None
    if spec.per_marketplace and marketplace is None:
        raise ValueError(f"flow {flow!r} runs per marketplace: give a marketplace")
    where = {"started_at": timezone.now(), "host": socket.gethostname()[:255],
             "pid": os.getpid()}
    if queued is not None:
        run = queued
        for key, value in {**where, "status": SyncRun.Status.RUNNING}.items():
            setattr(run, key, value)
        run.save(update_fields=[*where, "status"])
    else:
        run = SyncRun.objects.create(
            flow=flow, account=account, marketplace=marketplace, trigger=trigger, **where
        )
    problem = directory.problem(account)
    if problem is not None:
        return _refuse(run, problem)
    scope = marketplace.pk if marketplace else ""
    holder = lock_claim(flow=flow, account=account, scope=scope, run=run)
    if holder is None:
        return _finish(run, SyncRun.Status.SKIPPED, error="another run of this flow is active")
    try:
        return _run_locked(spec, run, scope=scope)
    finally:
        lock_release(flow=flow, account=account, scope=scope, holder=holder)


def _refuse(run: SyncRun, problem: tuple[str, str]) -> SyncRun:
    """The account may not run (inactive, unreadable secrets, ...): queue why, refuse."""
    reason, message = problem
    exception_record(
        flow=run.flow, account=run.account, marketplace=run.marketplace,
        object_kind="seller_account", object_key=run.account.selling_partner_id,
        reason_code=reason, message=message, owner_team=Team.OPS, run=run,
        severity=Severity.CRITICAL if reason == KEY_CHANGED else None,
    )
    return _finish(run, SyncRun.Status.REFUSED, error=message)


def _run_locked(spec: Flow, run: SyncRun, *, scope: str) -> SyncRun:
    """Run the flow in its context (the caller holds the lock) and mark the run: failures
    become exceptions, success resolves the flow's previous failure."""
    account, marketplace = run.account, run.marketplace
    ctx = spec.context(run=run, account=account, marketplace=marketplace, flow=spec)
    flow_key = f"{account.selling_partner_id}/{scope or '-'}"
    try:
        with _sigterm_interrupts():
            spec.func(ctx)
    except AuthError as err:
        said = _auth_failure_record(run, err)
        return _finish(run, SyncRun.Status.FAILED, error=said, counts=ctx.counts)
    except Exception as err:
        log.exception("flow %s failed for %s", spec.name, flow_key)
        exception_record(
            flow=spec.name, account=account, marketplace=marketplace, object_kind="flow",
            object_key=flow_key, reason_code="flow_failed",
            message=f"{type(err).__name__}: {err}", owner_team=spec.owner_team, run=run,
            payload={"error_type": type(err).__name__},
        )
        return _finish(run, SyncRun.Status.FAILED, error=f"{type(err).__name__}: {err}",
                       counts=ctx.counts)
    except BaseException as err:
        # Ctrl-C, SystemExit, SIGTERM (RunInterrupted): cut short, nothing wrong with the
        # data (committed pages are whole, the cursor not ahead), so no exception is queued.
        log.warning("flow %s for %s interrupted (%s): run %s marked failed", spec.name,
                    flow_key, type(err).__name__, run.pk)
        try:
            _finish(run, SyncRun.Status.FAILED, error=INTERRUPTED, counts=ctx.counts)
        except Exception:  # never hide the interruption; runall's safety net may mark it
            log.exception("could not mark run %s interrupted", run.pk)
        raise
    exception_resolve(flow=spec.name, object_kind="flow", object_key=flow_key,
                      reason_code="flow_failed", note="resolved: the next run succeeded")
    return _finish(run, SyncRun.Status.SUCCEEDED, counts=ctx.counts)


def _auth_failure_record(run: SyncRun, err: AuthError) -> str:
    """Amazon refused the account's credentials: flag the account for re-authorisation when
    Amazon says so, queue the refusal; returns what Amazon said, without secrets."""
    directory = accounts()
    account = run.account
    said = redact_secrets(str(err), secrets=directory.secrets(account))
    if err.reauthorization_required and not account.needs_reauthorization:
        directory.mark_reauthorization(account=account, reason=said)
    exception_record(
        flow=run.flow, account=account, marketplace=run.marketplace,
        object_kind="seller_account", object_key=account.selling_partner_id,
        reason_code="reauthorization_required" if err.reauthorization_required
        else "auth_failed",
        message=f"Amazon refused the credentials: {said}", owner_team=Team.OPS, run=run,
    )
    return said


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While a flow runs, SIGTERM raises RunInterrupted in it instead of killing the process
    (django-q2's workers inherit SIGTERM's default action and ignore SIGINT). Only where
    SIGTERM would kill anyway: in the main thread, with no handler set."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signum, frame):
        # Once is enough: a second SIGTERM while the run is being marked kills as before.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise RunInterrupted(f"stopped by {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _finish(
    run: SyncRun, status: str, *, error: str = "", counts: dict[str, int] | None = None
) -> SyncRun:
    run.status = status
    run.finished_at = timezone.now()
    run.error = redact_secrets(error)[:5000]
    fields = ["status", "finished_at", "error"]
    for key, value in (counts or {}).items():
        setattr(run, key, value)
        fields.append(key)
    run.save(update_fields=fields)
    # api_calls / throttled are incremented by the client as it goes.
    run.refresh_from_db(fields=["api_calls", "throttled"])
    return run
