"""JSON_LISTINGS_FEED documents: building the delta messages, exact JSON, schema validation.

Messages are PATCH operations (``fulfillment_availability`` for quantities,
``purchasable_offer`` for prices). Every document is validated against Amazon's
listings-feed-schema-v2.json before it is uploaded; a document that does not validate is our
bug and is never sent.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from .selectors import PriceChange, QuantityChange

FEED_TYPE = "JSON_LISTINGS_FEED"
MAX_MESSAGES = 25_000  # Amazon's limit per JSON_LISTINGS_FEED document
DEFAULT_SCHEMA_DIR = Path("/work/shared/spapi/schemas/feeds")
SCHEMA_FILE = "listings-feed-schema-v2.json"


class FeedDocumentInvalid(ValueError):
    """A feed we built does not match Amazon's schema: never uploaded."""


def schema_dir() -> Path:
    configured = getattr(settings, "SPAPI_SCHEMA_DIR", "") or ""
    import os

    return Path(os.environ.get("SPAPI_SCHEMA_DIR") or configured or DEFAULT_SCHEMA_DIR)


@lru_cache(maxsize=2)
def _validator(directory: str):
    import jsonschema

    schema = json.loads((Path(directory) / SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def validate_document(document: dict) -> None:
    """Raise FeedDocumentInvalid with every problem (first 10) if the document is invalid."""
    errors = sorted(_validator(str(schema_dir())).iter_errors(document),
                    key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(str(p) for p in e.absolute_path) or '(document)'}: {e.message}"
                 for e in errors[:10]]
        raise FeedDocumentInvalid(f"{len(errors)} schema error(s): " + "; ".join(lines))


def chunks(changes: Sequence, size: int = MAX_MESSAGES) -> Iterator[Sequence]:
    for start in range(0, len(changes), size):
        yield changes[start:start + size]


def quantity_message(message_id: int, change: QuantityChange) -> dict:
    return {
        "messageId": message_id, "sku": change.seller_sku, "operationType": "PATCH",
        "productType": change.product_type or "PRODUCT",
        "patches": [{
            "op": "replace", "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": change.quantity}],
        }],
    }


def price_message(message_id: int, change: PriceChange, marketplace_id: str) -> dict:
    return {
        "messageId": message_id, "sku": change.seller_sku, "operationType": "PATCH",
        "productType": change.product_type or "PRODUCT",
        "patches": [{
            "op": "replace", "path": "/attributes/purchasable_offer",
            "value": [{
                "marketplace_id": marketplace_id, "currency": change.currency,
                "our_price": [{"schedule": [{"value_with_tax": change.price}]}],
            }],
        }],
    }


def document(*, seller_id: str, messages: list[dict]) -> dict:
    return {"header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
            "messages": messages}


def dumps(doc: dict) -> bytes:
    """JSON with Decimal money written as exact JSON numbers (never through float)."""
    nonce = secrets.token_hex(6)
    marker = f"@@dec{nonce}:"

    def default(value):
        if isinstance(value, Decimal):
            return f"{marker}{value:f}@@"
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    text = json.dumps(doc, default=default, separators=(",", ":"), ensure_ascii=False)
    text = re.sub(re.escape(f'"{marker}') + r'(-?[0-9.]+)@@"', r"\1", text)
    return text.encode("utf-8")


def loads(content: bytes) -> dict:
    return json.loads(content, parse_float=Decimal)
