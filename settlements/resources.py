"""CSV import/export of the GL chart and mapping rules (django-import-export)."""

from __future__ import annotations

from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from marketplaces.models import Marketplace

from .models import GLAccount, GLMapping


class GLAccountResource(resources.ModelResource):
    class Meta:
        model = GLAccount
        fields = ("code", "name", "type", "role", "active")
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = False


class GLMappingResource(resources.ModelResource):
    gl_account = fields.Field(
        attribute="gl_account", column_name="gl_account",
        widget=ForeignKeyWidget(GLAccount, field="code"),
    )
    marketplace = fields.Field(
        attribute="marketplace", column_name="marketplace",
        widget=ForeignKeyWidget(Marketplace, field="code"),
    )

    class Meta:
        model = GLMapping
        fields = ("id", "transaction_type", "amount_type", "amount_description", "pattern",
                  "marketplace", "gl_account", "memo")
        skip_unchanged = True
        report_skipped = False
