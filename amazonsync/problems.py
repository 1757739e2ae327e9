"""What an exception is about, in words for people, and which exceptions are one problem.

Reasons are codes the apps choose (``unmapped_sku``); ``REASONS`` gives each the words the
queue shows ("SKU not mapped to an item"). ``group_key`` says which rows are the same problem
seen in several places: the same reason about the same object, whatever the marketplace or
seller account it was met in. The object's identity is its key without the account's
selling partner id and the marketplace's code or id (``A1SELLER/DE/ABC-1`` is SKU ``ABC-1``);
a key that is only the account (``seller_account`` problems) stays the account. Problems of
a seller account refuse every flow alike, so they group across flows too; any other problem
belongs to its flow. An order line waiting for its SKU to be mapped is a problem of the SKU,
not of the order: such rows group by SKU (one row, "50 order lines in 5 marketplaces", fixed
by one mapping). Pure functions: the services and the data migration share them.
"""

from __future__ import annotations

import hashlib

REASONS: dict[str, str] = {
    # catalog
    "unmapped_sku": "SKU not mapped to an item",
    "waiting_on_mapping": "Waiting for a SKU to be mapped",
    "fba_stock_on_mfn_listing": "FBA stock on a merchant-fulfilled listing",
    "inbound_discrepancy": "Inbound shipment: received differs from shipped",
    "quantity_push_rejected": "Amazon rejected a quantity update",
    "price_push_rejected": "Amazon rejected a price update",
    "feed_failed": "Amazon could not process a feed",
    # orders and shipments
    "unknown_marketplace": "Order from a marketplace we do not know",
    "bad_order_data": "Order data could not be read",
    "unknown_carrier": "Carrier not mapped to an Amazon carrier",
    "missing_tracking_number": "Shipment without a tracking number",
    "missing_order_item_ids": "Amazon order item ids missing",
    "amazon_rejected": "Amazon rejected the shipment confirmation",
    "confirm_error": "Shipment confirmation failed",
    # returns
    "bad_row": "Report row could not be read",
    "marketplace_unknown": "Return from a marketplace we do not know",
    "no_disposition_rule": "No rule for this return's disposition",
    "mfn_refund_not_returned": "Refunded, but the item never came back",
    "credit_memo_changed_after_export": "Credit memo changed after it was exported",
    # settlements
    "reissued_conflict": "Settlement reissued with different figures",
    "dates_outside_period": "Settlement dates outside its period",
    "unmapped_lines": "Settlement lines without a GL account",
    "v1_unavailable": "Old (V1) settlement reports not available",
    "bad_report": "Settlement report could not be read",
    # seller accounts and flows
    "not_participating": "Account does not sell in this marketplace",
    "account_inactive": "Seller account switched off",
    "encryption_key_changed": "Stored secrets unreadable (encryption key changed)",
    "reauthorization_required": "Seller account must be authorised again",
    "lwa_secret_expired": "Amazon app secret expired",
    "auth_failed": "Amazon refused the credentials",
    "flow_failed": "Sync flow failed",
}

# What a person does about a problem, as "Fix: <verb> <object>" ("map SKU ABC-1").
# Looked up by (object kind, reason), then reason, then object kind.
FIX_VERBS: dict[tuple[str, str] | str, str] = {
    "unmapped_sku": "map SKU",
    "waiting_on_mapping": "map SKU",
    "lwa_secret_expired": "rotate the secret of",
    "reauthorization_required": "authorise again",
    "encryption_key_changed": "re-enter the secrets of",
    "auth_failed": "check the credentials of",
    "account_inactive": "check account",
    "not_participating": "check marketplaces of",
    "flow_failed": "see the failed run of",
    "unmapped_lines": "map GL accounts for settlement",
    "unknown_carrier": "map the carrier of",
    "no_disposition_rule": "add a disposition rule for",
    "shipment": "check shipment",
    "listing": "check listing",
}


# Reasons whose rows name "<order>/<SKU>" but are fixed once per SKU.
GROUPED_BY_SKU = frozenset({"waiting_on_mapping"})


def reason_label(code: str) -> str:
    """The words for a reason code; an unknown code in plain words rather than raw."""
    if code in REASONS:
        return REASONS[code]
    return code.replace("_", " ").strip().capitalize() or "Unknown problem"


def object_identity(object_key: str, *, account_key: str = "",
                    marketplace_keys: tuple[str, ...] = ()) -> str:
    """The object a key names, without the account and marketplace it was met in."""
    parts = [p for p in object_key.split("/")]
    for key in marketplace_keys:
        if key and key in parts:
            parts.remove(key)
            break
    if account_key and account_key in parts and len(parts) > 1:
        parts.remove(account_key)
    return "/".join(parts) or object_key


def group_key(*, flow: str, object_kind: str, object_key: str, reason_code: str,
              account_key: str = "", marketplace_keys: tuple[str, ...] = ()) -> str:
    """The key shared by the rows that are one problem (see the module's docstring)."""
    identity = object_identity(object_key, account_key=account_key,
                               marketplace_keys=marketplace_keys)
    if reason_code in GROUPED_BY_SKU:
        identity = identity.rsplit("/", 1)[-1]  # order/SKU: the SKU is what needs the fix
    scope = "" if object_kind == "seller_account" else flow
    key = f"{reason_code}|{object_kind}|{scope}|{identity}"
    if len(key) > 255:
        key = key[:214] + "#" + hashlib.sha1(key.encode()).hexdigest()
    return key


def fix_verb(object_kind: str, reason_code: str) -> str | None:
    return (FIX_VERBS.get((object_kind, reason_code)) or FIX_VERBS.get(reason_code)
            or FIX_VERBS.get(object_kind))
