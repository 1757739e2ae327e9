"""The catalog's CSV/XLSX import in the admin: all or nothing, every bad cell named by its
line and column, and a summary preview before anything is written."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connections, router
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX

from .forms import FileImportForm

PREVIEW_ROWS = 200


class CatalogImportExportMixin(ImportExportMixin):
    """All-or-nothing imports with plain-language errors and a summary preview."""

    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    import_form_class = FileImportForm
    import_template_name = "admin/catalog/import.html"

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None)
        result = context.get("result") if context else None
        if result is not None:
            shown = [row for row in result.valid_rows() if row.import_type in ("new", "update")]
            context["preview_rows"] = shown[:PREVIEW_ROWS]
            context["preview_hidden"] = max(0, len(shown) - PREVIEW_ROWS)
            context["invalid_count"] = len(result.invalid_rows)
        return response

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            context = self.admin_site.each_context(request)
            context.update({
                "title": "Import", "opts": self.model._meta, "result": result,
                "invalid_count": len(result.invalid_rows), "form": None,
            })
            return TemplateResponse(request, [self.import_template_name], context,
                                    status=400)
        return super().process_result(result, request)

    def generate_log_entries(self, result, request):
        """The admin log entry import-export writes for each new or changed row (same
        fields, flags and messages), from the rows' ids and reprs (the resource keeps no
        instance per row) and in one executemany rather than a LogEntry per row through
        the ORM's insert compiler."""
        if self.get_skip_admin_log():
            return
        flags = {"new": ADDITION, "update": CHANGE}
        content_type_id = ContentType.objects.get_for_model(
            self.model, for_concrete_model=False).pk
        db = router.db_for_write(LogEntry)
        connection = connections[db]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        messages_ = {kind: gettext(f"{kind} through import_export") for kind in flags}
        params = [(now, request.user.pk, content_type_id, str(row.object_id),
                   (row.object_repr or "")[:200], flags[row.import_type],
                   messages_[row.import_type])
                  for row in result if row.import_type in flags]
        if not params:
            return
        qn = connection.ops.quote_name
        columns = ("action_time", "user_id", "content_type_id", "object_id", "object_repr",
                   "action_flag", "change_message")
        sql = (f"INSERT INTO {qn(LogEntry._meta.db_table)} "
               f"({', '.join(qn(LogEntry._meta.get_field(c).column) for c in columns)}) "
               f"VALUES ({', '.join(['%s'] * len(columns))})")
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def add_success_message(self, result, request):
        totals = result.totals
        messages.success(
            request,
            f"Import finished: {totals['new']} new, {totals['update']} changed, "
            f"{totals['skip']} unchanged {self.model._meta.verbose_name_plural}.",
        )
