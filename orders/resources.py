"""CSV/XLSX import and export of carrier mappings (django-import-export).

Rows are keyed on (carrier, ship method); the Amazon side is checked by the same rule as
the admin (``services.carrier_code_checked``: a code Amazon accepts, stored in Amazon's
spelling, and "Other" with a carrier name). A wrong row is reported with its reason and
nothing is written.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from .models import CarrierMapping
from .services import CarrierMappingInvalid, carrier_code_checked

TRUE_WORDS = {"yes", "y", "true", "1", "on"}
FALSE_WORDS = {"no", "n", "false", "0", "off"}


def _text(value) -> str:
    return "" if value is None else str(value).strip()


class CarrierMappingResource(resources.ModelResource):
    active = fields.Field(attribute="active", column_name="active",
                          widget=widgets.BooleanWidget())

    class Meta:
        model = CarrierMapping
        fields = ("carrier", "ship_method", "amazon_carrier_code", "amazon_carrier_name",
                  "shipping_method", "active")
        export_order = fields
        import_id_fields = ("carrier", "ship_method")
        skip_unchanged = True
        report_skipped = True
        use_transactions = True

    def import_data(self, dataset, *args, **kwargs):
        kwargs.setdefault("rollback_on_validation_errors", True)  # one bad row: no writes
        return super().import_data(dataset, *args, **kwargs)

    def before_import_row(self, row, **kwargs):
        for column in ("carrier", "ship_method", "amazon_carrier_code", "amazon_carrier_name",
                       "shipping_method"):
            row[column] = _text(row.get(column))
        if not row["carrier"]:
            raise ValidationError("carrier: a value is required")
        try:
            row["amazon_carrier_code"] = carrier_code_checked(
                code=row["amazon_carrier_code"], name=row["amazon_carrier_name"])
        except CarrierMappingInvalid as err:
            raise ValidationError(f"{err.column}: {err}") from None
        active = _text(row.get("active")).lower()
        if active in ("", *TRUE_WORDS):
            row["active"] = "1"
        elif active in FALSE_WORDS:
            row["active"] = "0"
        else:
            raise ValidationError(f"active: {row.get('active')!r} is not yes or no")
