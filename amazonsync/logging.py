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
