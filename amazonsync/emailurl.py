"""E-mail settings from one URL (``EMAIL_URL``), read by the settings module.

    smtp://user:password@host:587          SMTP (STARTTLS with ?tls=1)
    smtp+tls://user:password@host:587      SMTP with STARTTLS
    smtps://user:password@host:465         SMTP over SSL
    console://                             printed on the console (development)
    locmem://                              kept in memory (tests)
    file:///var/mail/outbox                one file per message in that folder
    dummy://                               dropped

User and password may be percent-encoded (``%40`` for ``@``). Plain Python: no Django.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
TRUE = {"1", "true", "yes", "on"}


class BadEmailUrl(ValueError):
    pass


def email_settings(url: str) -> dict:
    """The Django e-mail settings (``EMAIL_BACKEND``, ``EMAIL_HOST``...) an URL stands for."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in BACKENDS:
        known = ", ".join(f"{name}://" for name in BACKENDS)
        raise BadEmailUrl(f"EMAIL_URL: unknown scheme {parts.scheme!r} (one of {known})")
    out: dict = {"EMAIL_BACKEND": BACKENDS[scheme]}
    if scheme == "file":
        if not parts.path:
            raise BadEmailUrl("EMAIL_URL: file:// needs a folder, e.g. file:///var/mail/outbox")
        out["EMAIL_FILE_PATH"] = unquote(parts.path)
        return out
    if not scheme.startswith("smtp"):
        return out
    if not parts.hostname:
        raise BadEmailUrl("EMAIL_URL: an smtp URL needs a host, e.g. smtp://mail.example.com:587")
    query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError:
        raise BadEmailUrl("EMAIL_URL: the port is not a number") from None
    ssl = scheme == "smtps" or query.get("ssl", "").lower() in TRUE
    tls = scheme == "smtp+tls" or query.get("tls", "").lower() in TRUE
    if ssl and tls:
        raise BadEmailUrl("EMAIL_URL: choose SSL (smtps://) or STARTTLS (?tls=1), not both")
    out.update(
        EMAIL_HOST=parts.hostname,
        EMAIL_PORT=port or (465 if ssl else 587 if tls else 25),
        EMAIL_HOST_USER=unquote(parts.username or ""),
        EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
        EMAIL_USE_SSL=ssl,
        EMAIL_USE_TLS=tls,
    )
    if "timeout" in query:
        out["EMAIL_TIMEOUT"] = int(query["timeout"])
    return out


def address_list(value: str) -> list[str]:
    """``"a@x.com, b@x.com"`` -> ``["a@x.com", "b@x.com"]`` (commas or semicolons)."""
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
