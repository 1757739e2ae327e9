"""CSV import/export (django-import-export) of disposition rules and credit memos.

Disposition rules are keyed on (disposition, channel, reason), so importing the same file
twice changes nothing; values are normalised (upper-case dispositions, known channels and
actions) and a bad cell is refused with a plain reason. Credit memos export only.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from import_export import fields, resources

from .models import Action, CreditMemo, DispositionRule
from .services import disposition_normalise

ACTIONS = {a.value: a.value for a in Action} | {a.label.lower(): a.value for a in Action}
CHANNELS = {"": "", "FBA": "FBA", "AFN": "FBA", "MFN": "MFN", "FBM": "MFN", "ANY": ""}


class DispositionRuleResource(resources.ModelResource):
    class Meta:
        model = DispositionRule
        fields = ("disposition", "channel", "reason", "action", "amazon_fault", "active",
                  "note")
        import_id_fields = ("disposition", "channel", "reason")
        skip_unchanged = True
        report_skipped = False

    def before_import_row(self, row, **kwargs):
        row["disposition"] = disposition_normalise(str(row.get("disposition") or ""))
        if not row["disposition"]:
            raise ValidationError("disposition: a value is required")
        channel = str(row.get("channel") or "").strip().upper()
        if channel not in CHANNELS:
            raise ValidationError(f"channel: {channel!r} is not FBA, MFN or empty")
        row["channel"] = CHANNELS[channel]
        row["reason"] = str(row.get("reason") or "").strip()
        action = str(row.get("action") or "").strip().lower()
        if action not in ACTIONS:
            known = ", ".join(a.value for a in Action)
            raise ValidationError(f"action: {action!r} is not one of {known}")
        row["action"] = ACTIONS[action]
        for name in ("amazon_fault", "active"):
            if name in row and str(row[name]).strip() == "":
                row[name] = "1" if name == "active" else "0"


class CreditMemoResource(resources.ModelResource):
    account = fields.Field(attribute="account__selling_partner_id", column_name="account")
    marketplace = fields.Field(attribute="marketplace__code", column_name="marketplace")

    class Meta:
        model = CreditMemo
        fields = ("number", "account", "marketplace", "order_id", "line_key", "seller_sku",
                  "refund_date", "currency", "quantity", "principal", "tax", "shipping",
                  "promotion", "total", "exported_at")
        export_order = fields
