"""``manage.py spapi_sandbox``: run the local SP-API simulator until Ctrl-C."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from amazonsync.sandbox import (
    DEFAULT_SELLER,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    SandboxConfig,
    serve_forever,
)
from amazonsync.sandbox.support import FAULT_PROFILES
from amazonsync.sandbox.world import DEFAULT_ORDERS, DEFAULT_SEED


class Command(BaseCommand):
    help = "Run the local SP-API sandbox (same paths and JSON shapes as Amazon) until Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--faults", choices=FAULT_PROFILES, default="none")
        parser.add_argument("--orders", type=int, default=DEFAULT_ORDERS)
        parser.add_argument("--start", default=None,
                            help="a fixed simulated start instant (ISO 8601), for reproducible "
                            "runs; default: the present (the world is generated back from "
                            "today's date and the clock starts at the wall clock)")
        parser.add_argument("--advance", type=int, default=0, metavar="SECONDS",
                            help="move simulated time forward by SECONDS before serving")
        parser.add_argument("--base-url", default=None,
                            help="URL clients use to reach the sandbox (document URLs)")
        parser.add_argument("--no-rate-limits", action="store_true")
        parser.add_argument("--quiet", action="store_true", help="no request log")

    def handle(self, *args, **options) -> None:
        if options["orders"] < 1:
            raise CommandError("--orders must be at least 1")
        if options["advance"] < 0:
            raise CommandError("--advance must not be negative")
        host, port = options["host"], options["port"]
        base_url = options["base_url"] or f"http://{host}:{port}"
        config = SandboxConfig(
            seed=options["seed"], orders=options["orders"], start=options["start"],
            faults=options["faults"], rate_limits=not options["no_rate_limits"],
            base_url=base_url,
        )

        def ready(sandbox) -> None:
            sandbox.now += options["advance"]
            info = sandbox.info()
            self.stdout.write(f"SP-API sandbox listening on {base_url}")
            self.stdout.write(f"  LWA token URL:  {info['tokenUrl']}")
            self.stdout.write(f"  seller id:      {DEFAULT_SELLER}")
            self.stdout.write(f"  client id:      {LWA_CLIENT_ID}")
            self.stdout.write(f"  client secret:  {LWA_CLIENT_SECRET}")
            self.stdout.write(f"  refresh token:  {REFRESH_TOKEN}")
            self.stdout.write(
                f"  seed {config.seed}, {config.orders} orders, faults={config.faults}, "
                f"rate limits {'on' if config.rate_limits else 'off'}, now {info['now']}"
            )
            self.stdout.write("Ctrl-C to stop.")
            self.stdout.flush()

        try:
            serve_forever(config, host=host, port=port, verbose=not options["quiet"],
                          ready=ready)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
