"""Bad admin addresses answer 400, never 500.

Every admin page reads values from its address: changelist filters (``?account__exact=``),
page numbers (``?p=``), date-hierarchy parts (``?end_date__year=``), the dates and ids of the
custom pages (``drift-chart/?from=``) and object ids in the path. Django turns most bad
values into its "?e=1" page, but not all of them: a number too large for the database
(SQLite raises OverflowError, PostgreSQL a DataError), a year past 9999, a page past the
end of a lookahead list, a date like ``2024-99-99`` or ``abc`` where an id belongs raise
while the page is built or rendered. Rather than guard each view and each third-party
admin (auth, django-q), this middleware is the one place that turns such a parsing error on
a read-only admin request (GET/HEAD) into a 400 page in plain words; the error is logged at
WARNING with the line of our code it came through, so a real bug hiding behind one is still
seen (without a traceback per hostile request). Writes (POST)
are left alone: their forms validate, and a failure there must stay loud.
"""

from __future__ import annotations

import logging
import traceback

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.core.paginator import InvalidPage
from django.db import DataError
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

log = logging.getLogger(__name__)

BAD_INPUT_ERRORS = (
    IncorrectLookupParameters,
    ValidationError,
    ValueError,  # int("abc"), date(2024, 99, 99), a field's to_python
    OverflowError,  # a number too large for SQLite or for a date
    InvalidPage,
    DataError,  # PostgreSQL: out of range, invalid input syntax
)


def _admin_prefix() -> str:
    try:
        return reverse("admin:index")
    except NoReverseMatch:  # pragma: no cover - no admin mounted
        return "/admin/"


def _origin(exception: BaseException) -> str:
    """The innermost frame of the project's own code the error passed through."""
    frames = traceback.extract_tb(exception.__traceback__)
    ours = [f for f in frames if "site-packages" not in f.filename] or frames
    return f"{ours[-1].filename}:{ours[-1].lineno}" if ours else "?"


class AdminBadQueryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if request.method not in ("GET", "HEAD") or not isinstance(exception, BAD_INPUT_ERRORS):
            return None
        if not request.path.startswith(_admin_prefix()):
            return None
        log.warning("admin %s answered 400: bad value in the address (%s: %s, via %s)",
                    request.get_full_path()[:500], type(exception).__name__,
                    str(exception)[:200], _origin(exception))
        context = {
            **admin.site.each_context(request),
            "title": "This address cannot be shown",
            "list_url": request.path if request.GET else _admin_prefix(),
            "params": [(key, value[:200]) for key, value in
                       list(request.GET.items())[:20]],
        }
        response = TemplateResponse(request, "admin/amazonsync/bad_request.html", context,
                                    status=400)
        return response.render()
