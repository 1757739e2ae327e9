from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


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
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, cwd=settings.BASE_DIR)
            self.stdout.write(f"started {name} (pid {procs[name].pid}): {' '.join(cmd[1:])}")
        self.stdout.write(self.style.SUCCESS(
            f"\nAdmin: http://127.0.0.1:{admin_port}/admin/   "
            f"SP-API sandbox: http://127.0.0.1:{sandbox_port}   (Ctrl-C stops all)\n"
        ))
        exit_code = 0
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping all")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.3)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self.stdout.write("all stopped")
        if exit_code:
            sys.exit(exit_code)
