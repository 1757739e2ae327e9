"""Secrets at rest: Fernet encryption with a key from the environment, and their redaction.

``FIELD_ENCRYPTION_KEY`` holds one or more comma-separated Fernet keys; the first encrypts,
all decrypt, so a key can be rotated without rewriting every row at once. Without it (only
allowed with DEBUG on) a key is derived from SECRET_KEY. ``key_problem`` says what is wrong
with a configured value; the system check ``amazonsync.E001`` (``amazonsync/checks.py``)
refuses to start with it.

A secret written with another key (the key changed, or was lost) reads back as an
``UndecryptableSecret``: an empty string that remembers its stored ciphertext, so pages and
services can load the account and say what happened, nothing ever sends it anywhere, and
saving the row writes the ciphertext back unchanged (restoring the old key recovers it).

Every secret this process decrypts or encrypts is remembered (a bounded, most-recent set)
so that ``redact_secrets`` can take it out of any text: the one function every place that
stores, shows or logs an external error text goes through (an LWA token endpoint that
echoes the request puts the client secret and refresh token in its ``error_description``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "fernet:"
REDACTED = "[redacted]"


def key_problem(keys: str) -> str | None:
    """What is wrong with a FIELD_ENCRYPTION_KEY value, in plain words, or None."""
    parts = [k.strip() for k in keys.split(",") if k.strip()]  # as ``_fernet`` reads it
    if not parts:
        return "it is set but holds no key"
    for position, key in enumerate(parts, start=1):
        where = "it" if len(parts) == 1 else f"key {position} of {len(parts)}"
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            return f"{where} is not URL-safe base64"
        if len(raw) != 32:
            return f"{where} decodes to {len(raw)} bytes; a Fernet key is 32 bytes"
    return None


@lru_cache(maxsize=4)
def _fernet(keys: str, secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
    derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
    return MultiFernet([Fernet(derived)])


def fernet() -> MultiFernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


KEY_CHANGED = (
    "cannot decrypt a stored secret: FIELD_ENCRYPTION_KEY does not match the key it was "
    "written with"
)


def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    if not value.startswith(PREFIX):
        raise ValueError("value is not an encrypted secret")
    try:
        return fernet().decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ValueError(KEY_CHANGED) from exc


class UndecryptableSecret(str):
    """A stored secret the configured key cannot decrypt. Reads as "" (so it is never used
    or shown); ``ciphertext`` is what the database holds, written back as is on save."""

    ciphertext: str

    def __new__(cls, ciphertext: str) -> UndecryptableSecret:
        obj = super().__new__(cls, "")
        obj.ciphertext = ciphertext
        return obj

    def __reduce__(self):
        return (UndecryptableSecret, (self.ciphertext,))


def undecryptable(value) -> bool:
    return isinstance(value, UndecryptableSecret)


class EncryptedTextField(models.TextField):
    """A text column stored encrypted. Empty string stays empty (no secret set)."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            plain = decrypt(value)
        except ValueError:  # another key wrote it (or the configured key is malformed)
            return UndecryptableSecret(value)
        remember_secret(plain)
        return plain

    def get_prep_value(self, value):
        if isinstance(value, UndecryptableSecret):
            return value.ciphertext  # keep what is stored: the old key can still read it
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        remember_secret(value)
        return encrypt(value)


# --- redaction ------------------------------------------------------------------------

# What an LWA token or a secret request parameter looks like, wherever it is written.
_TOKEN = re.compile(r"Atz[ar]\|[A-Za-z0-9_\-|.+/=]+")
_SECRET_PARAMETER = re.compile(
    r"(?i)(client_secret|refresh_token|access_token|x-amz-access-token)"
    r"(['\"]?\s*[:=]\s*['\"]?)[^\s&'\",}]+"
)
_CLIENT_SECRET = re.compile(r"amzn1\.oa2-cs\.v1\.[A-Za-z0-9]+")


def redact_shapes(text: str) -> str:
    """``text`` with anything shaped like an LWA token, an LWA client secret or a
    ``client_secret=``/``refresh_token=``/``access_token=`` value taken out (the part of
    :func:`redact_secrets` that needs no remembered secret)."""
    text = _TOKEN.sub(REDACTED, text)
    text = _SECRET_PARAMETER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _CLIENT_SECRET.sub(REDACTED, text)


MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words
_KNOWN_MAX = 64
_known: OrderedDict[str, tuple[str, ...]] = OrderedDict()  # secret -> its spellings
_known_spellings: tuple[str, ...] = ()  # all of them, longest first
_known_lock = threading.Lock()


def _spellings(secret: str) -> tuple[str, ...]:
    """The ways a secret shows up in an echoed request: as is, form- or URL-encoded (either
    hex case), JSON- or HTML-escaped. Longest first, so no spelling is left half-replaced."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret),
             json.dumps(secret)[1:-1], html.escape(secret)}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}
    return tuple(sorted(forms, key=len, reverse=True))


def remember_secret(value: str) -> None:
    """Remember a secret (the most recent ``_KNOWN_MAX``) so redaction can find it."""
    global _known_spellings
    if not value or len(value) < MIN_SECRET_LENGTH or undecryptable(value):
        return
    with _known_lock:
        if value in _known:
            _known.move_to_end(value)
            return
        _known[value] = _spellings(value)
        while len(_known) > _KNOWN_MAX:
            _known.popitem(last=False)
        _known_spellings = tuple(sorted({s for forms in _known.values() for s in forms},
                                        key=len, reverse=True))


def redact_secrets(text: str, *, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret taken out: the stored secrets this process has seen (and
    ``secrets``), in any spelling, and anything shaped like an LWA token or a
    ``client_secret=``/``refresh_token=``/``access_token=`` value. Use it wherever an
    external error text is stored, shown or logged."""
    if not text:
        return text
    spellings = _known_spellings
    extra = [s for s in secrets
             if s and len(s) >= MIN_SECRET_LENGTH and not undecryptable(s)]
    if extra:
        spellings = sorted({*spellings, *(f for s in extra for f in _spellings(s))},
                           key=len, reverse=True)
    for spelling in spellings:
        if spelling in text:
            text = text.replace(spelling, REDACTED)
    return redact_shapes(text)


def redact_value(value):
    """``redact_secrets`` through a JSON-like value (payloads): strings, lists, dicts."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value
