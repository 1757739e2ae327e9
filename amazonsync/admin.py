"""The engine's admin pages, one module per topic.

``register_object_link`` (apps say where an exception's object is fixed) lives with the
exception queue; it is re-exported here, where the apps import it from."""

from __future__ import annotations

from . import (
    admin_auth,  # noqa: F401  (users, groups, task tables on the same look)
    admin_runs,  # noqa: F401  (sync runs, API calls)
)
from .admin_exceptions import OBJECT_LINKS, register_object_link

__all__ = ["OBJECT_LINKS", "register_object_link"]
