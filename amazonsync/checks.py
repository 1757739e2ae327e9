"""System checks of the project: refuse to start with a key that cannot protect secrets.

``FIELD_ENCRYPTION_KEY=notakey`` used to pass ``check --deploy`` and fail only when the
first secret was read or written. These checks run with every management command that
checks (runserver, migrate, qcluster, sync, ``check`` and ``check --deploy``), at error
level, so a malformed key stops the process at start-up, in plain words.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

from .crypto import key_problem


@register(Tags.security)
def encryption_key_check(app_configs=None, **kwargs) -> list[Error]:
    keys = getattr(settings, "FIELD_ENCRYPTION_KEY", "")
    if not keys:
        return []  # DEBUG derives a key from SECRET_KEY; production refuses to start without
    problem = key_problem(keys)
    if problem is None:
        return []
    return [Error(
        f"FIELD_ENCRYPTION_KEY is not a usable Fernet key: {problem}.",
        hint="Set it to a key made by `python -c \"from cryptography.fernet import Fernet; "
             "print(Fernet.generate_key().decode())\"` (several comma-separated: the first "
             "encrypts, all decrypt). Secrets saved with another key cannot be read with it.",
        id="amazonsync.E001",
    )]
