"""A crawl of the whole admin as one user: every list, the first object of each, its history,
and every custom page, each checked for what a person must never see.

Used by the default suite (``test_admin_crawl.py``: no 500, no money with more places than its
currency, no raw code where a label exists, no Python repr, a bounded number of queries) and by
``tests/benchmarks`` (the same pages timed at demo size)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, reverse

from amazonsync.money import ISO_4217

# Admin URL names never fetched by a crawl: they change data on GET (unfold's action links)
# or only answer POST; the logout ends the session.
SKIP_SUFFIXES = ("_delete", "_process_import", "_import", "_autocomplete")
SKIP_NAMES = {"logout", "password_change", "password_change_done", "jsi18n", "view_on_site",
              "autocomplete", "search", "app_list", "login", "index"}

MONEY = re.compile(
    r"(?<![\w.])(?P<sign>[-−+]?)(?P<num>\d{1,3}(?:,\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?)\s?"
    r"(?P<cur>[A-Z]{3})\b")
MONEY_BEFORE = re.compile(
    r"\b(?P<cur>[A-Z]{3})\s?(?P<sign>[-−+]?)(?P<num>\d{1,3}(?:,\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?![\d.])")
LONG_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d{5,}\b")
PY_REPR = re.compile(
    r"Decimal\('|datetime\.(?:datetime|date|timedelta)\(|<QuerySet|\{'[\w ]+': |"
    r"<[A-Za-z]+ object at 0x|\bObjectDoesNotExist\b|Traceback \(most recent|"
    r"\('[^']*', '[^']*'\)")


class _Text(HTMLParser):
    """Visible text, and the text of each table cell, of a page (no scripts or styles)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.cells: list[str] = []
        self._skip = 0
        self._cell: list[str] | None = None
        self._explained = False  # the cell carries a title (a hover text) with its meaning

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template", "textarea", "select"):
            self._skip += 1
        elif tag in ("td", "th"):
            self._cell = []
            self._explained = False
        if self._cell is not None and any(name == "title" and value for name, value in attrs):
            self._explained = True

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template", "textarea", "select"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th") and self._cell is not None:
            if not self._explained:
                self.cells.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        self.parts.append(data)
        if self._cell is not None:
            self._cell.append(data)


@dataclass
class Page:
    url: str
    status: int
    queries: int
    seconds: float
    problems: list[str] = field(default_factory=list)
    paged: bool = False  # a list of several pages: its last page's queries were compared


def raw_codes() -> dict[str, str]:
    """Every code people should see as words: {raw value: label}.

    Model choice values that read as codes (snake_case) with a different label (a value like
    "US" whose label is "United States" is an abbreviation people use), Amazon's marketplace
    ids, and Amazon's codes that have a term with a label (a cell with only the code and no
    hover text explaining it is a raw code)."""
    from django.apps import apps

    from marketplaces.models import AmazonTerm
    from marketplaces.reference import MARKETPLACES, marketplace_label

    codes = {row[0]: marketplace_label(row[0]) for row in MARKETPLACES}
    for code, label in AmazonTerm.objects.values_list("code", "label"):
        if code != label:
            codes[code] = label
    for model in apps.get_models():
        for f in model._meta.get_fields():
            for value, label in getattr(f, "flatchoices", None) or ():
                if (isinstance(value, str) and value != label and "_" in value
                        and value.lower() != str(label).lower()):
                    codes[value] = str(label)
    return codes


def check_text(html: str, codes: dict[str, str]) -> list[str]:
    parser = _Text()
    parser.feed(html)
    text = " ".join(" ".join(parser.parts).split())
    problems = []
    for pattern in (MONEY, MONEY_BEFORE):
        for m in pattern.finditer(text):
            cur = m.group("cur")
            if cur not in ISO_4217:
                continue
            num = m.group("num")
            places = len(num.split(".")[1]) if "." in num else 0
            if places > ISO_4217[cur]:
                problems.append(f"money with {places} places for {cur}: {m.group(0)!r}")
    for m in LONG_DECIMAL.finditer(text):
        problems.append(f"a number with too many decimals: {m.group(0)!r}")
    for m in PY_REPR.finditer(text):
        problems.append(f"Python repr: {text[max(0, m.start() - 30):m.end() + 30]!r}")
    for cell in parser.cells:
        if cell in codes:
            problems.append(f"raw code {cell!r} in a table cell (label: {codes[cell]!r})")
    return sorted(set(problems))


def _admin_patterns():
    """(URL name, pattern string) of every named admin URL."""
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name:
                yield p.name, prefix + str(p.pattern)
    yield from walk(admin.site.get_urls())


def _action_url_names() -> set[str]:
    """URL names of unfold's action links (they act on GET) for every registered admin."""
    names = set()
    for model_admin in admin.site._registry.values():
        for getter in ("_get_base_actions_detail", "_get_base_actions_row",
                       "_get_base_actions_list", "_get_base_actions_submit_line"):
            for action in getattr(model_admin, getter, lambda: [])():
                names.add(action.action_name)  # unfold names it app_model_action
    return names


def pages_for(user) -> list[str]:
    """Every admin address this user may open: lists, first objects, histories, custom pages."""
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    urls = [reverse("admin:index")]
    first_pk = {}
    registered = {(m._meta.app_label, m._meta.model_name) for m in admin.site._registry}
    viewable = set()
    for model, model_admin in sorted(admin.site._registry.items(),
                                     key=lambda kv: kv[0]._meta.label):
        if not model_admin.has_view_permission(request):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        viewable.add(info)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        obj = model_admin.get_queryset(request).order_by("pk").first()
        if obj is not None:
            first_pk[info] = obj.pk
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
            urls.append(reverse("admin:{}_{}_history".format(*info), args=[obj.pk]))
    actions = _action_url_names()
    standard = ("_changelist", "_change", "_history", "_add")
    for name, pattern in _admin_patterns():
        if (name in SKIP_NAMES or name in actions or name.endswith(SKIP_SUFFIXES)
                or name.endswith(standard)):
            continue
        owner = next((i for i in registered if name.startswith("{}_{}_".format(*i))), None)
        if owner is not None and owner not in viewable:
            continue  # a page of a model this user may not see
        params = re.findall(r"<(?:\w+:)?(\w+)>", pattern)
        if not params:
            urls.append(reverse(f"admin:{name}"))
        elif params == ["object_id"] or params == ["pk"]:
            info = next((i for i in first_pk if name.startswith("{}_{}_".format(*i))), None)
            if info is not None:
                urls.append(reverse(f"admin:{name}", args=[first_pk[info]]))
    try:
        urls.append(reverse("health"))
    except Exception:  # noqa: BLE001 - the page is optional
        pass
    return list(dict.fromkeys(urls))


# The pages where Amazon's codes are the subject: the glossary of terms itself.
CODES_ARE_THE_SUBJECT = ("/admin/marketplaces/amazonterm/",)


def crawl(client, user, codes=None, repeat: int = 1) -> list[Page]:
    """Fetch every page for ``user`` (logged in on ``client``); ``repeat`` > 1 keeps the best
    time of several fetches (benchmarks)."""
    codes = raw_codes() if codes is None else codes
    client.force_login(user)
    pages = []
    for url in pages_for(user):
        best = None
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                seconds = time.perf_counter() - started
            best = seconds if best is None else min(best, seconds)
        page = Page(url=url, status=response.status_code, queries=len(ctx.captured_queries),
                    seconds=best)
        if response.status_code >= 500:
            page.problems.append(f"HTTP {response.status_code}")
        elif response.status_code == 200 and "html" in response.get("Content-Type", ""):
            subject = url.startswith(CODES_ARE_THE_SUBJECT)
            page.problems.extend(check_text(response.content.decode(), {} if subject else codes))
            growing = _growing_queries(client, url, response, page.queries)
            page.paged = growing is not None
            page.problems.extend(growing or [])
        pages.append(page)
    return pages


def _growing_queries(client, url: str, response, queries: int) -> list[str] | None:
    """A list's queries must not grow with its rows: its last page (fewer rows than a full
    page) costs what the first, full page costs. None when the page is not such a list."""
    cl = (getattr(response, "context", None) or {}).get("cl")
    if cl is None or "?" in url or cl.paginator.num_pages < 2:
        return None
    last = cl.paginator.num_pages
    with CaptureQueriesContext(connection) as ctx:
        client.get(url, {"p": last})
    if len(ctx.captured_queries) != queries:
        return [f"queries grow with rows: {queries} for the first page, "
                f"{len(ctx.captured_queries)} for page {last}"]
    return []
