"""``manage.py runall``: the admin, a django-q2 cluster and the SP-API sandbox in the foreground.

Each child runs in its own session (so its own process group): Ctrl-C in the terminal reaches
only runall, which stops every child's whole group (the cluster's sentinel, workers, monitor
and pusher too) with SIGTERM, the leader's forks before the leader (see ``_terminate``), waits
up to ``STOP_TIMEOUT`` seconds in all, then SIGKILLs any group still alive (a second Ctrl-C
does at once). A worker running a flow turns the SIGTERM into ``RunInterrupted`` and marks
its run failed "interrupted" (``flow_run``); for a worker that could not (SIGKILLed), runall
then marks the runs its dead process tree left RUNNING (``runs_mark_interrupted``), so the
next run proceeds at once instead of waiting for the lock to expire.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from amazonsync.services import runs_mark_interrupted

STOP_TIMEOUT = 10.0  # seconds for all children to stop after SIGTERM, then SIGKILL
SCAN_EVERY = 1.0  # seconds between two looks at the children's process groups


def group_pids(pgids: set[int]) -> dict[int, set[int]]:
    """The live (not zombie) processes of the given process groups: {pgid: {pid, ...}}."""
    found: dict[int, set[int]] = {pgid: set() for pgid in pgids}
    if os.path.isdir("/proc"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue  # gone meanwhile
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
            fields = stat[stat.rindex(b")") + 2:].split()
            state, pgid = fields[0], int(fields[2])
            if pgid in found and state not in (b"Z", b"X"):
                found[pgid].add(int(entry))
        return found
    out = subprocess.run(["ps", "-A", "-o", "pid=,pgid=,stat="], capture_output=True,
                         text=True, check=False).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and int(parts[1]) in found and not parts[2].startswith("Z"):
            found[int(parts[1])].add(int(parts[0]))
    return found


def pid_alive(pid: int) -> bool:
    """Whether the process runs: a zombie (dead, not yet reaped: an orphan in a container
    whose init does not reap) does not."""
    if os.path.isdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return False
        return stat[stat.rindex(b")") + 2:].split()[0] not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Command(BaseCommand):
    help = (
        "Run the admin (127.0.0.1:8000), a django-q2 cluster and the SP-API sandbox "
        "(127.0.0.1:8001) together in the foreground; Ctrl-C stops all three."
    )

    def add_arguments(self, parser):
        parser.add_argument("--admin-port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8001)
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, admin_port, sandbox_port, seed, **options):
        python = sys.executable
        sandbox = [python, "manage.py", "spapi_sandbox", "--port", str(sandbox_port)]
        if seed is not None:
            sandbox += ["--seed", str(seed)]
        commands = {
            "sandbox": sandbox,
            "worker": [python, "manage.py", "qcluster"],
            "admin": [python, "manage.py", "runserver", f"127.0.0.1:{admin_port}",
                      "--noreload"],
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.seen: set[int] = set()  # every pid of the children's groups: the process tree
        self.signals = 0
        started_at = timezone.now()

        def on_signal(signum, frame):
            self.signals += 1  # no output here: a handler may interrupt a write

        # The children are in sessions of their own: closing the terminal (SIGHUP) reaches
        # only runall too.
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                signal.signal(sig, on_signal)
        exit_code = 0
        try:
            for name, cmd in commands.items():
                if self.signals:
                    break
                # A session of its own: the terminal's Ctrl-C reaches runall only, and the
                # child's whole group (its forks included) is known and stopped together.
                self.procs[name] = subprocess.Popen(
                    cmd, cwd=settings.BASE_DIR, start_new_session=True)
                self.stdout.write(
                    f"started {name} (pid {self.procs[name].pid}): {' '.join(cmd[1:])}")
            self.stdout.write(self.style.SUCCESS(
                f"\nAdmin: http://127.0.0.1:{admin_port}/admin/   "
                f"SP-API sandbox: http://127.0.0.1:{sandbox_port}   (Ctrl-C stops all)\n"
            ))
            scanned = 0.0
            while not self.signals:
                for name, proc in self.procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping all")
                        exit_code = proc.returncode or 1
                        break
                if exit_code:
                    break
                if time.monotonic() - scanned >= SCAN_EVERY:
                    self._scan()
                    scanned = time.monotonic()
                time.sleep(0.3)
        finally:
            # Children are not in runall's group: whatever ends runall, stop them.
            self._stop_all()
            self._mark_interrupted_runs(started_at)
            self.stdout.write("all stopped")
        if exit_code:
            sys.exit(exit_code)

    # --- stopping ------------------------------------------------------------------------

    def _scan(self) -> dict[int, set[int]]:
        groups = group_pids({proc.pid for proc in self.procs.values()})
        for pids in groups.values():
            self.seen |= pids
        return groups

    def _alive(self) -> dict[str, set[int]]:
        for proc in self.procs.values():
            proc.poll()  # reap the group leader once it exits
        groups = self._scan()
        return {name: groups[proc.pid] for name, proc in self.procs.items()
                if groups[proc.pid]}

    def _terminate(self, alive: dict[str, set[int]], signalled: set[int]) -> None:
        """SIGTERM every live process of each group once: the leader's forks first, the
        leader when they are gone.

        That order matters for the django-q2 cluster: its leader, told to stop first, would
        wait for the workers to finish their tasks (minutes); told with its sentinel, it
        deadlocks setting the stop event the dead sentinel was waiting on. Once the sentinel
        is gone the leader exits by itself. Processes forked meanwhile get theirs next time.
        """
        for name, pids in alive.items():
            leader = self.procs[name].pid
            forks = pids - {leader}
            for pid in sorted((forks or {leader}) - signalled):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                signalled.add(pid)

    def _stop_all(self) -> None:
        alive = self._alive()
        for name, pids in alive.items():
            self.stdout.write(
                f"stopping {name}: SIGTERM to process group {self.procs[name].pid} "
                f"(pids {' '.join(map(str, sorted(pids)))})")
        signalled: set[int] = set()
        signals = self.signals  # one more (a second Ctrl-C) kills at once
        deadline = time.monotonic() + STOP_TIMEOUT
        while alive and time.monotonic() < deadline and self.signals == signals:
            self._terminate(alive, signalled)
            time.sleep(0.1)
            alive = self._alive()
        if alive and self.signals != signals:
            self.stdout.write("signalled again while stopping: killing now")
        for name, pids in alive.items():
            self.stdout.write(f"killing {name}: still running "
                              f"(pids {' '.join(map(str, sorted(pids)))}), SIGKILL")
            try:
                os.killpg(self.procs[name].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = self._alive()
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} (pid {proc.pid}) did not exit")
            else:
                self.stdout.write(f"stopped {name} (exit {proc.returncode})")

    def _mark_interrupted_runs(self, started_at) -> None:
        """Runs left RUNNING by a process of the (now dead) tree: failed, locks freed."""
        dead = {pid for pid in self.seen if not pid_alive(pid)}
        try:
            run_ids = runs_mark_interrupted(host=socket.gethostname(), pids=dead,
                                            started_after=started_at)
        except Exception as err:  # the database may be gone too: say so, do not hang
            self.stderr.write(f"could not check for interrupted runs: {err}")
            return
        if run_ids:
            self.stdout.write(
                f"marked interrupted (failed, lock freed): runs {', '.join(map(str, run_ids))}")
