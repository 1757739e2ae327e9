"""Listings writes: attribute validation and application, JSON_LISTINGS_FEED processing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from .money import quantize
from .shapes import MARKETPLACE_BY_ID, Marketplace

SCHEMA_DIR = Path("/work/shared/spapi/schemas/feeds")
LISTINGS_FEED_SCHEMA = "listings-feed-schema-v2.json"


class SchemaUnavailable(RuntimeError):
    """The listings feed JSON schema could not be loaded."""


@lru_cache(maxsize=4)
def load_feed_schema(directory: str = str(SCHEMA_DIR)) -> dict:
    path = Path(directory) / LISTINGS_FEED_SCHEMA
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaUnavailable(
            f"cannot load the JSON_LISTINGS_FEED schema from {path}: {exc}. "
            "Set SandboxConfig.schema_dir (or the SPAPI_SCHEMA_DIR environment variable) "
            "to the folder holding listings-feed-schema-v2.json."
        ) from exc


@dataclass
class ListingState:
    quantity: int | None
    price: Decimal | None
    channel_code: str
    deleted: bool = False
    updated: int = 0
    attributes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    attribute: str = ""
    severity: str = "ERROR"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_attributes(attributes: dict, mps: list[Marketplace]) -> tuple[list[Issue], dict]:
    """Validate the attributes we act on; returns (issues, changes per marketplace code).

    Changes: ``{mp_code: {"quantity": int, "channel_code": str, "price": Decimal}}``.
    Attributes other than ``fulfillment_availability`` and ``purchasable_offer`` are kept
    as given and not interpreted.
    """
    issues: list[Issue] = []
    changes: dict[str, dict] = {mp.code: {} for mp in mps}
    availability = attributes.get("fulfillment_availability")
    if availability is not None:
        if not isinstance(availability, list) or not availability:
            issues.append(Issue("90244", "'fulfillment_availability' must be a non-empty array.",
                                "fulfillment_availability"))
        else:
            for entry in availability:
                qty = entry.get("quantity") if isinstance(entry, dict) else None
                code = entry.get("fulfillment_channel_code") if isinstance(entry, dict) else None
                if not isinstance(code, str) or not code:
                    issues.append(Issue("90220", "'fulfillment_channel_code' is required but not "
                                        "supplied.", "fulfillment_availability"))
                    continue
                if code == "DEFAULT" or "quantity" in entry:
                    if not _is_int(qty) or qty < 0:
                        issues.append(Issue(
                            "99010", f"The value '{qty}' for 'quantity' is invalid: a whole "
                            "number of 0 or more is required.",
                            "fulfillment_availability.quantity"))
                        continue
                for change in changes.values():
                    change["channel_code"] = code
                    if qty is not None:
                        change["quantity"] = qty
    offers = attributes.get("purchasable_offer")
    if offers is not None:
        if not isinstance(offers, list) or not offers:
            issues.append(Issue("90244", "'purchasable_offer' must be a non-empty array.",
                                "purchasable_offer"))
        else:
            for offer in offers:
                issues.extend(_check_offer(offer, mps, changes))
    return issues, changes


def _check_offer(offer, mps: list[Marketplace], changes: dict[str, dict]) -> list[Issue]:
    attr = "purchasable_offer.our_price"
    if not isinstance(offer, dict):
        return [Issue("99010", "Each 'purchasable_offer' entry must be an object.", attr)]
    targets = mps
    mp_id = offer.get("marketplace_id")
    if mp_id is not None:
        mp = MARKETPLACE_BY_ID.get(mp_id)
        if mp is None or mp not in mps:
            return [Issue("90111", f"The marketplace_id '{mp_id}' is not valid for this "
                          "submission.", "purchasable_offer.marketplace_id")]
        targets = [mp]
    try:
        value = offer["our_price"][0]["schedule"][0]["value_with_tax"]
    except (KeyError, IndexError, TypeError):
        return [Issue("99022", "The field 'prices' for the attribute "
                      "'purchasable_offer.our_price' does not have enough values. The required "
                      "minimum is '1' value(s).", attr)]
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return [Issue("99010", f"The value '{value}' for 'value_with_tax' is not a number.", attr)]
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return [Issue("99010", f"The value '{value}' for 'value_with_tax' is not a number.", attr)]
    if not price.is_finite() or price <= 0:
        return [Issue("99010", f"The value '{value}' for 'value_with_tax' must be greater "
                      "than 0.", attr)]
    issues = []
    currency = offer.get("currency")
    for mp in targets:
        if currency is not None and currency != mp.currency:
            issues.append(Issue("99010", f"The currency '{currency}' is not valid for "
                                f"marketplace {mp.id}; use {mp.currency}.",
                                "purchasable_offer.currency"))
            continue
        if quantize(price, mp.currency) != price:
            issues.append(Issue("99010", f"The value '{value}' has more decimal places than "
                                f"{mp.currency} allows.", attr))
            continue
        changes[mp.code]["price"] = price
    return issues


def patches_to_attributes(patches) -> tuple[list[Issue], dict, list[str]]:
    """JSON Patch operations on /attributes/... to (issues, attributes to set, to delete)."""
    issues: list[Issue] = []
    attributes: dict = {}
    deleted: list[str] = []
    if not isinstance(patches, list) or not patches:
        return [Issue("99010", "'patches' must be a non-empty array.")], {}, []
    for patch in patches:
        if not isinstance(patch, dict):
            issues.append(Issue("99010", "Each patch must be an object."))
            continue
        op, path = patch.get("op"), patch.get("path")
        if op not in ("add", "replace", "merge", "delete"):
            issues.append(Issue("99010", f"Unsupported patch op '{op}'."))
            continue
        if not isinstance(path, str) or not path.startswith("/attributes/") or \
                len(path.split("/")) != 3:
            issues.append(Issue("99010", f"Unsupported patch path '{path}'; use "
                                "/attributes/<name>."))
            continue
        name = path.split("/")[2]
        if op == "delete":
            deleted.append(name)
            continue
        value = patch.get("value")
        if not isinstance(value, list):
            issues.append(Issue("99010", f"The value for '{path}' must be an array.", name))
            continue
        attributes[name] = value
    return issues, attributes, deleted
