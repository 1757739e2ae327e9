"""Log filter that keeps LWA secrets and tokens out of every log line."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    re.compile(r"Atz[ar]\|[A-Za-z0-9_\-|.+/=]+"),
    re.compile(r"(?i)(client_secret|refresh_token|access_token|x-amz-access-token)"
               r"(['\"]?\s*[:=]\s*['\"]?)[^\s&'\",}]+"),
    re.compile(r"amzn1\.oa2-cs\.v1\.[A-Za-z0-9]+"),
]


def redact(text: str) -> str:
    text = _PATTERNS[0].sub("[redacted]", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    return _PATTERNS[2].sub("[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Token shapes and every stored secret this process has seen, out of the message and
    of the traceback's text (``amazonsync.crypto.redact_secrets``)."""

    def filter(self, record: logging.LogRecord) -> bool:
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
