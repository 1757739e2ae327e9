"""Local SP-API sandbox: same paths, query parameters, JSON shapes and errors as Amazon.

Public API::

    from amazonsync.sandbox import World, start_sandbox, DEFAULT_SELLER, REFRESH_TOKEN
    url, stop = start_sandbox(seed=1, orders=500)
"""

from .api.core import SandboxConfig
from .app import Sandbox
from .server import serve_forever, start_sandbox, start_sandbox_app
from .shapes import CARRIER_CODES, MARKETPLACES
from .world import (
    DEFAULT_REGION,
    DEFAULT_SELLER,
    DEFAULT_SELLER_NAME,
    DEFAULT_START,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    REFRESH_TOKEN,
    REVOKED_REFRESH_TOKEN,
    World,
)

__all__ = [
    "CARRIER_CODES", "DEFAULT_REGION", "DEFAULT_SELLER", "DEFAULT_SELLER_NAME", "DEFAULT_START",
    "LWA_CLIENT_ID", "LWA_CLIENT_SECRET", "MARKETPLACES", "REFRESH_TOKEN",
    "REVOKED_REFRESH_TOKEN", "Sandbox", "SandboxConfig", "World", "serve_forever",
    "start_sandbox", "start_sandbox_app",
]
