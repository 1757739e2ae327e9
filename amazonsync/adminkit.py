"""Building blocks every app's admin shares: one read-only admin, one money cell."""

from __future__ import annotations

from django.contrib import admin

from .money import display as money_display

__all__ = ["ReadOnlyAdmin", "money_display"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the sync and the services: viewable, never added or edited by hand.

    ``superuser_may_delete`` lets a superuser delete (e.g. to prune old sync runs)."""

    superuser_may_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.superuser_may_delete and request.user.is_superuser
