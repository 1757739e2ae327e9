"""Database roles on PostgreSQL: the owner migrates, the application role only reads and
writes rows.

The owner (the role that runs ``manage.py migrate``) owns every table, function and
trigger. The application role is not a superuser, owns nothing and gets only SELECT,
INSERT, UPDATE and DELETE on the tables (no TRUNCATE, no DDL): it can neither drop nor
disable the triggers that guard the books (``ALTER TABLE ... DISABLE TRIGGER`` needs the
owner, ``session_replication_role`` a superuser).

The application either logs in as that role (``DATABASE_URL`` names it), or logs in as the
owner and switches to it on every connection with ``DATABASE_APP_ROLE`` (settings adds
``-c role=...`` to the connection options): that is how the test suite runs in CI, so
pytest-django can create and migrate the test database as the owner and then run every
test with the application's privileges (see ``tests/conftest.py``).
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

#: what the application role may do in the database; run by the owner after migrating
GRANTS = (
    "GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}",
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    # tables and sequences later migrations create (by the owner running this)
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
)


def checked_role(name: str) -> str:
    """``name`` if it is a plain PostgreSQL role name (it is put into SQL and options)."""
    if not ROLE_NAME.fullmatch(name or ""):
        raise ImproperlyConfigured(
            f"DATABASE_APP_ROLE={name!r} is not a role name: lower-case letters, digits "
            "and underscores, starting with a letter or underscore"
        )
    return name


def role_option(role: str) -> str:
    return f"-c role={checked_role(role)}"


def with_app_role(db: dict, role: str) -> dict:
    """Settings of a PostgreSQL database switched to ``role`` on every connection."""
    options = db.setdefault("OPTIONS", {})
    current = options.get("options", "")
    options["options"] = f"{current} {role_option(role)}".strip()
    return db


def app_role_suspend(alias: str = "default") -> str | None:
    """Connect as the owner from now on (e.g. to create and migrate a test database);
    returns the role that was switched to, if any."""
    from django.db import connections

    conn = connections[alias]
    options = conn.settings_dict.get("OPTIONS", {})
    text = options.get("options", "")
    match = re.search(r"-c role=(\S+)", text)
    if not match:
        return None
    options["options"] = (text[: match.start()] + text[match.end():]).strip()
    if not options["options"]:
        del options["options"]
    conn.close()
    return match.group(1)


def app_role_resume(role: str, alias: str = "default") -> None:
    """Switch to ``role`` again on the next connection."""
    from django.db import connections

    conn = connections[alias]
    with_app_role(conn.settings_dict, role)
    conn.close()


def app_role_grant(role: str, alias: str = "default") -> None:
    """Grant ``role`` the application's rights on the connected database (as the owner)."""
    from django.db import connections

    conn = connections[alias]
    role = checked_role(role)
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        database = cursor.fetchone()[0]
        quoted = conn.ops.quote_name(database)
        for statement in GRANTS:
            cursor.execute(statement.format(database=quoted, role=role))
