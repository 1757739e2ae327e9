"""Log filter that keeps LWA secrets and tokens out of every log line (the redaction itself
is ``amazonsync.crypto.redact_secrets``)."""

from __future__ import annotations

import logging


class RedactSecretsFilter(logging.Filter):
    """Token shapes and every stored secret this process has seen, out of the message and
    of the traceback's text (``amazonsync.crypto.redact_secrets``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Imported here: the filter is built while Django configures logging.
        from .crypto import redact_secrets

        message = record.getMessage()
        cleaned = redact_secrets(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_secrets(
                logging.Formatter().formatException(record.exc_info)
            )
        return True


class PermissionDeniedOneLine(logging.Filter):
    """A refused request (403) is routine, not a failure: one line saying who asked for what
    and why it was refused (``403 ops GET /admin/settlements/journalbatch/1/change/: no
    permission``), without the traceback Django attaches. Other errors pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403:
            return True
        request = getattr(record, "request", None)
        user = getattr(request, "user", None)
        who = (user.get_username() if user is not None and user.is_authenticated
               else "anonymous")
        refusal = record.exc_info[1] if record.exc_info else None
        reason = str(refusal) if refusal is not None else ""
        record.msg = "403 %s %s %s: %s"
        record.args = (who, getattr(request, "method", "-"), getattr(request, "path", "-"),
                       (reason or "no permission")[:300])
        record.exc_info = None
        record.exc_text = None
        return True
