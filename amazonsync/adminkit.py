"""Building blocks every app's admin shares, on django-unfold's look.

Every admin class in the project derives from these (never from ``django.contrib.admin``'s
own classes directly), so the whole back office has one look: ``ModelAdmin``, the inlines,
``ReadOnlyAdmin`` for records the sync writes, the import/export admins with unfold's forms,
and ``money_display`` for one money cell."""

from __future__ import annotations

from import_export.admin import ExportMixin, ImportExportMixin
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin as _UnfoldModelAdmin
from unfold.admin import StackedInline as _UnfoldStackedInline
from unfold.admin import TabularInline as _UnfoldTabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from .money import display as money_display

__all__ = [
    "ExportAdmin",
    "HistoryAdmin",
    "ImportExportAdmin",
    "ImportExportHistoryAdmin",
    "ModelAdmin",
    "ReadOnlyAdmin",
    "StackedInline",
    "TabularInline",
    "money_display",
]


class ModelAdmin(_UnfoldModelAdmin):
    """The project's admin: unfold's, with filters submitted by a button (lists are large)."""

    list_filter_submit = True
    warn_unsaved_form = True
    compressed_fields = True


class TabularInline(_UnfoldTabularInline):
    pass


class StackedInline(_UnfoldStackedInline):
    pass


class ReadOnlyAdmin(ModelAdmin):
    """Records written by the sync and the services: viewable, never added or edited by hand.

    ``superuser_may_delete`` lets a superuser delete (e.g. to prune old sync runs)."""

    superuser_may_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.superuser_may_delete and request.user.is_superuser


class HistoryAdmin(SimpleHistoryAdmin, ModelAdmin):
    """An admin whose objects keep a change history (django-simple-history)."""


class ImportExportAdmin(ImportExportMixin, ModelAdmin):
    import_form_class = ImportForm
    export_form_class = ExportForm


class ImportExportHistoryAdmin(ImportExportMixin, HistoryAdmin):
    import_form_class = ImportForm
    export_form_class = ExportForm


class ExportAdmin(ExportMixin, ModelAdmin):
    export_form_class = ExportForm
