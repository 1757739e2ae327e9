"""Clean shutdown: a run cut short is marked failed "interrupted" at once, its lock freed, and
``manage.py runall`` leaves no process behind.

- In ``flow_run``: KeyboardInterrupt, SystemExit and SIGTERM (turned into ``RunInterrupted``
  while the flow runs) mark the run failed "interrupted", queue no exception, free the lock
  and propagate; the next run proceeds.
- A real flow subprocess (what ``manage.py sync orders`` runs, held by the sandbox in the
  middle of a request) stopped with SIGTERM or SIGINT marks its own run.
- One SIGKILLed cannot: ``runs_mark_interrupted`` (what runall calls once its process tree is
  gone) marks the runs that tree left RUNNING on this host.
- A real ``manage.py runall`` whose django-q2 worker runs a flow, stopped by SIGINT to its
  process group (a terminal's Ctrl-C): every process of its tree is gone within 15 s, the run
  is failed "interrupted" with its lock free, and a new run proceeds.

The subprocesses share the test's database as in ``test_kill9`` (``SharedDatabase``).
"""

from __future__ import annotations

import datetime
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from amazonsync import services
from amazonsync.flows import client_options, register_flow, unregister_flow
from amazonsync.models import SyncException, SyncLock, SyncRun
from amazonsync.sandbox import DEFAULT_SELLER, SandboxConfig, World, start_sandbox_app
from amazonsync.services import RunInterrupted, flow_run, runs_mark_interrupted
from amazonsync.spapi.clock import SimulatedClock
from amazonsync.spapi.ratelimit import MemoryBucketStore
from tests.amazonsync.test_kill9 import Gate, SharedDatabase, seller, start_worker

US = "ATVPDKIKX0DER"
BASE_DIR = Path(settings.BASE_DIR)
HOST = socket.gethostname()
PROC = Path("/proc")


@pytest.fixture(autouse=True)
def simulated_quota_time():
    with client_options(clock=SimulatedClock(), bucket_store=MemoryBucketStore()):
        yield


@pytest.fixture
def flow_factory():
    names = []

    def make(name, func, **kw):
        register_flow(name, **kw)(func)
        names.append(name)
        return name

    yield make
    for name in names:
        unregister_flow(name)


def assert_interrupted(run: SyncRun, *, flow: str, account, scope: str = US) -> None:
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error == "interrupted"
    assert run.finished_at is not None
    lock = SyncLock.objects.get(flow=flow, account=account, scope=scope)
    assert lock.holder == "" and lock.expires_at is None
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()


# --- flow_run's interruption path (in process) --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit, RunInterrupted])
def test_an_interrupted_flow_is_failed_interrupted_its_lock_freed_and_it_propagates(
        account, flow_factory, interruption):
    state = {"interrupt": True}

    def flow(ctx):
        ctx.count(fetched=3, created=2)
        if state["interrupt"]:
            raise interruption()

    flow_factory("t_interrupted", flow, switch="orders")
    with pytest.raises(interruption):
        flow_run(flow="t_interrupted", account_id=account.pk, marketplace_id=US)

    run = SyncRun.objects.get(flow="t_interrupted")
    assert_interrupted(run, flow="t_interrupted", account=account)
    assert (run.fetched, run.created) == (3, 2)  # what it did before it was cut short
    assert (run.host, run.pid) == (HOST, os.getpid())
    # Nothing is wrong with the data: no exception is queued for an interruption.
    assert not SyncException.objects.exists()

    # The next run is not skipped: it takes the lock and runs.
    state["interrupt"] = False
    again = flow_run(flow="t_interrupted", account_id=account.pk, marketplace_id=US)
    assert again.status == SyncRun.Status.SUCCEEDED
    assert SyncLock.objects.get(flow="t_interrupted", scope=US).run_id == again.pk


@pytest.mark.django_db
def test_sigterm_while_a_flow_runs_raises_run_interrupted_in_it(account, flow_factory):
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("this process handles SIGTERM itself: flow_run leaves it alone")
    seen = {}

    def flow(ctx):
        seen["handler"] = signal.getsignal(signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the handler raises before this ends
        seen["slept"] = True

    flow_factory("t_sigterm", flow, switch="orders")
    started = time.monotonic()
    with pytest.raises(RunInterrupted, match="SIGTERM"):
        flow_run(flow="t_sigterm", account_id=account.pk, marketplace_id=US)
    assert time.monotonic() - started < 5 and "slept" not in seen
    assert seen["handler"] is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored
    assert_interrupted(SyncRun.objects.get(flow="t_sigterm"), flow="t_sigterm",
                       account=account)


@pytest.mark.django_db
def test_a_process_with_its_own_sigterm_handler_keeps_it(account, flow_factory):
    calls = []

    def mine(signum, frame):
        calls.append(signum)

    def flow(ctx):
        assert signal.getsignal(signal.SIGTERM) is mine
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)

    flow_factory("t_own_handler", flow, switch="orders")
    previous = signal.signal(signal.SIGTERM, mine)
    try:
        run = flow_run(flow="t_own_handler", account_id=account.pk, marketplace_id=US)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert run.status == SyncRun.Status.SUCCEEDED and calls == [signal.SIGTERM]


# --- the safety net: runs left RUNNING by dead processes ---------------------------------


@pytest.mark.django_db
def test_runs_mark_interrupted_fails_only_the_dead_trees_runs_and_frees_their_locks(
        account, flow_factory):
    flow_factory("t_safety", lambda ctx: None, switch="orders")
    flow_factory("t_other", lambda ctx: None, switch="orders")
    now = timezone.now()
    earlier = now - datetime.timedelta(hours=1)

    def running(flow: str, *, host: str = HOST, pid: int = 4242, started_at=now) -> SyncRun:
        run = SyncRun.objects.create(flow=flow, account=account, marketplace_id=US,
                                     started_at=started_at, host=host, pid=pid)
        assert services.lock_claim(flow=flow, account=account, scope=US, run=run)
        return run

    dead = running("t_safety")
    elsewhere = running("t_other", host="another-host")
    other_pid = SyncRun.objects.create(flow="t_other", account=account, marketplace_id=US,
                                       started_at=now, host=HOST, pid=4343)
    older = SyncRun.objects.create(flow="t_other", account=account, marketplace_id=US,
                                   started_at=earlier, host=HOST, pid=4242)
    done = SyncRun.objects.create(flow="t_other", account=account, marketplace_id=US,
                                  started_at=now, host=HOST, pid=4242,
                                  status=SyncRun.Status.SUCCEEDED, finished_at=now)

    marked = runs_mark_interrupted(host=HOST, pids=[4242, 9999],
                                   started_after=now - datetime.timedelta(minutes=1))

    assert marked == [dead.pk]
    dead.refresh_from_db()
    assert (dead.status, dead.error) == (SyncRun.Status.FAILED, "interrupted")
    assert SyncLock.objects.get(flow="t_safety", scope=US).holder == ""
    for run in (elsewhere, other_pid, older):
        run.refresh_from_db()
        assert run.status == SyncRun.Status.RUNNING
    done.refresh_from_db()
    assert done.status == SyncRun.Status.SUCCEEDED
    # The other host's run still holds its lock.
    assert SyncLock.objects.get(flow="t_other", scope=US).holder != ""
    # The freed flow runs at once, without waiting for the lock to expire.
    again = flow_run(flow="t_safety", account_id=account.pk, marketplace_id=US)
    assert again.status == SyncRun.Status.SUCCEEDED
    assert runs_mark_interrupted(host=HOST, pids=[]) == []


# --- real processes --------------------------------------------------------------------------


@pytest.fixture
def sandbox():
    url, stop, app = start_sandbox_app(
        SandboxConfig(seed=5, orders=40, rate_limits=False), world=World(5, orders=40))
    gate = Gate(app)
    try:
        yield url, gate
    finally:
        gate.release()
        stop()


def wait_until(condition, what: str, timeout: float, proc: subprocess.Popen | None = None,
               output=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended before {what}:\n{output() if output else ''}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n"
                         f"{output() if output else ''}")


def assert_a_new_run_proceeds(account, url: str) -> None:
    run = flow_run(flow="orders", account_id=account.pk, marketplace_id=US)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert SyncLock.objects.get(flow="orders", account=account, scope=US).run_id == run.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_flow_process_stopped_mid_request_marks_its_run_interrupted(sandbox, tmp_path, sig):
    url, gate = sandbox
    account = seller(url, DEFAULT_SELLER)
    shared = SharedDatabase(tmp_path)
    shared.export()
    gate.arm("/orders/v0/orders", after=0)  # hold the first getOrders: the flow is running
    worker = start_worker(shared, account)
    try:
        wait_until(gate.held.is_set, "the flow's first request", 20, worker)
        os.kill(worker.pid, sig)
        out, err = worker.communicate(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
        gate.release()
    assert worker.returncode != 0  # the interruption propagated: the process stopped
    expected = "RunInterrupted" if sig == signal.SIGTERM else "KeyboardInterrupt"
    assert expected in err.decode()
    shared.import_()

    run = SyncRun.objects.get(flow="orders", account=account)
    assert run.pid == worker.pid and run.host == HOST
    assert_interrupted(run, flow="orders", account=account)
    assert not SyncException.objects.filter(reason_code="flow_failed").exists()
    assert_a_new_run_proceeds(account, url)


@pytest.mark.django_db(transaction=True)
def test_a_sigkilled_flow_process_run_is_marked_by_the_safety_net(sandbox, tmp_path):
    url, gate = sandbox
    account = seller(url, DEFAULT_SELLER)
    shared = SharedDatabase(tmp_path)
    shared.export()
    gate.arm("/orders/v0/orders", after=0)
    started = timezone.now()
    worker = start_worker(shared, account)
    try:
        wait_until(gate.held.is_set, "the flow's first request", 20, worker)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
        gate.release()
    shared.import_()
    run = SyncRun.objects.get(flow="orders", account=account)
    assert run.status == SyncRun.Status.RUNNING  # it could not mark itself
    assert SyncLock.objects.get(flow="orders", account=account, scope=US).holder != ""

    assert runs_mark_interrupted(host=HOST, pids=[worker.pid], started_after=started) \
        == [run.pk]
    assert_interrupted(run, flow="orders", account=account)
    assert_a_new_run_proceeds(account, url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_table() -> dict[int, tuple[int, str]]:
    """{pid: (ppid, state)} of every process."""
    table = {}
    for entry in os.listdir(PROC):
        if entry.isdigit():
            try:
                stat = (PROC / entry / "stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            table[int(entry)] = (int(fields[1]), fields[0].decode())
    return table


def descendants(root: int) -> set[int]:
    table = process_table()
    found, todo = set(), [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, _) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def still_running(pids: set[int]) -> set[int]:
    """Those of ``pids`` that exist and are not zombies (a zombie has stopped)."""
    table = process_table()
    return {pid for pid in pids if pid in table and table[pid][1] not in ("Z", "X")}


def running_run_pid(shared: SharedDatabase) -> int | None:
    if shared.path is None:
        return SyncRun.objects.filter(status=SyncRun.Status.RUNNING).values_list(
            "pid", flat=True).first()
    with sqlite3.connect(shared.path, timeout=20) as db:
        row = db.execute("SELECT pid FROM amazonsync_syncrun WHERE status = 'running'").fetchone()
    return row[0] if row else None


@pytest.mark.skipif(not PROC.is_dir(), reason="reads the process tree from /proc")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("worker_sigkilled", [False, True],
                         ids=["worker-marks-its-run", "worker-sigkilled-runall-marks-it"])
def test_ctrl_c_on_runall_mid_sync_leaves_no_process_and_no_running_run(
        sandbox, tmp_path, worker_sigkilled):
    """Ctrl-C while the cluster's worker runs a flow. Either the worker marks its own run
    (SIGTERM -> RunInterrupted), or, when it was SIGKILLed before (the OOM killer, say) and
    the cluster started another, runall marks the run its dead tree left RUNNING."""
    from django_q.brokers.orm import ORM
    from django_q.tasks import async_task

    url, gate = sandbox
    account = seller(url, DEFAULT_SELLER)
    # What the schedule queues: the orders flow, for the cluster's ORM broker.
    async_task("amazonsync.tasks.run_flow", "orders", account.pk, US, sync=False,
               broker=ORM(list_key=settings.Q_CLUSTER["name"]))
    shared = SharedDatabase(tmp_path)
    shared.export()
    gate.arm("/orders/v0/orders", after=0)  # the worker's flow is held mid-request

    env = {**shared.env, "DJANGO_SETTINGS_MODULE": "amazonsync.settings", "Q_SYNC": "0",
           "Q_WORKERS": "2", "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)  # the ORM broker, in the shared database
    log_path = tmp_path / "runall.log"
    with open(log_path, "wb") as log:
        runall = subprocess.Popen(
            [sys.executable, "manage.py", "runall", "--admin-port", str(free_port()),
             "--sandbox-port", str(free_port())],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )

    def output() -> str:
        return log_path.read_text(errors="replace")

    tree: set[int] = set()
    try:
        wait_until(gate.held.is_set, "the worker's flow to run", 25, runall, output)
        tree = descendants(runall.pid)
        assert len(tree) >= 6, output()  # 3 children, the sentinel, workers, monitor, pusher
        if worker_sigkilled:
            time.sleep(1.5)  # runall looks at its process tree every second
            pid = running_run_pid(shared)
            assert pid in tree
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not still_running({pid}), "the worker to die", 5)
            tree |= descendants(runall.pid)
        os.killpg(runall.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        wait_until(lambda: not still_running(tree | {runall.pid}),
                   "every process of runall's tree to stop", 15, None, output)
        runall.wait(timeout=5)
    finally:
        gate.release()
        tree |= descendants(runall.pid)
        if runall.poll() is None:
            runall.kill()
            runall.wait()
        for pid in still_running(tree):  # only when the test failed: leave nothing behind
            os.kill(pid, signal.SIGKILL)
    text = output()
    assert runall.returncode == 0, text
    assert "stopping worker" in text and "all stopped" in text
    # Who marked the run: runall only for the SIGKILLed worker, that could not.
    assert ("marked interrupted (failed, lock freed): runs" in text) is worker_sigkilled, text

    shared.import_()
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()
    run = SyncRun.objects.get(flow="orders", account=account)
    assert run.pid in tree and run.host == HOST  # it ran in runall's worker
    assert_interrupted(run, flow="orders", account=account)
    assert_a_new_run_proceeds(account, url)
