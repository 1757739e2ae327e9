"""Building blocks every app's admin shares, on django-unfold's look.

Every admin class in the project derives from these (never from ``django.contrib.admin``'s
own classes directly), so the whole back office has one look: ``ModelAdmin``, the inlines,
``ReadOnlyAdmin`` for records the sync writes, the import/export admins with unfold's forms,
and ``money_display`` for one money cell."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from import_export.admin import ExportMixin, ImportExportMixin
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin as _UnfoldModelAdmin
from unfold.admin import StackedInline as _UnfoldStackedInline
from unfold.admin import TabularInline as _UnfoldTabularInline
from unfold.checks import UnfoldModelAdminChecks
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


def next_url(request) -> str | None:
    """The page a person came from, given as ``?next=`` (same site only), or None."""
    url = request.GET.get("next") or request.POST.get("next")
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return None


class _Checks(UnfoldModelAdminChecks):
    """unfold's checks without the one that reads the permission table: system checks run
    before ``migrate`` creates it, so on a fresh database they would stop ``migrate`` itself.
    A dotted action permission is checked for its shape only; Django refuses unknown ones at
    request time (``has_perm`` is False)."""

    def _check_unfold_action_permission_methods(self, obj):
        from django.core import checks

        errors = []
        for getter in ("_get_base_actions_list", "_get_base_actions_detail",
                       "_get_base_actions_row", "_get_base_actions_submit_line"):
            for action in getattr(obj, getter)():
                for permission in getattr(action.method, "allowed_permissions", ()):
                    if "." in permission:
                        continue
                    if not hasattr(obj, f"has_{permission}_permission"):
                        errors.append(checks.Error(
                            f"{obj.__class__.__name__} must define has_{permission}_permission()"
                            f" for the {action.method.original_function_name}() action.",
                            obj=obj.__class__, id="admin.E129"))
        return errors


class ModelAdmin(_UnfoldModelAdmin):
    """The project's admin: unfold's, with filters submitted by a button (lists are large).

    A change page opened with ``?next=<url>`` (e.g. the exception queue's fix link) shows a
    way back and, once saved, returns there."""

    checks_class = _Checks
    list_filter_submit = True
    warn_unsaved_form = True
    compressed_fields = True
    change_form_outer_before_template = "admin/amazonsync/back_link.html"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        back = next_url(request)
        if back:
            extra_context["back_link"] = back
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _back_after_save(self, request, obj):
        back = next_url(request)
        if back and not any(key in request.POST for key in
                            ("_continue", "_addanother", "_saveasnew")):
            messages.success(request, f"Saved {obj}. You are back where you started.")
            return HttpResponseRedirect(back)
        return None

    def response_change(self, request, obj):
        return self._back_after_save(request, obj) or super().response_change(request, obj)

    def response_add(self, request, obj, post_url_continue=None):
        return (self._back_after_save(request, obj)
                or super().response_add(request, obj, post_url_continue))


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
