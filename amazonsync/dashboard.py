"""The home page: what needs attention, per role, each figure linking to its filtered list.

A registry the apps fill, like the health metrics: each app registers the panels made of its
own data in ``<app>/dashboard.py`` with ``register_panel`` (discovered at start-up), so this
module imports no app. A panel belongs to an audience ("ops", "accounting", "everyone"), needs
a permission to be shown, and answers with a constant number of queries whatever the data
size. Unfold calls ``dashboard_callback`` when it renders the admin index.

A panel's ``compute(request, now)`` returns a ``PanelData``: big figures (``Figure``) and/or a
small table (``headers`` + ``rows`` of already formatted cells; a cell may be safe HTML such
as a link or a badge). Money is formatted by ``amazonsync.money.display`` in the panel, one
figure per currency: never a total across currencies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils import timezone

AUDIENCES = {
    "ops": "Operations",
    "accounting": "Accounting",
    "everyone": "For everyone",
}
TONES = ("ok", "warn", "bad", "neutral")


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    link: str = ""
    tone: str = "neutral"  # ok (green), warn (amber), bad (red), neutral
    detail: str = ""

    def __post_init__(self):
        if self.tone not in TONES:
            raise ValueError(f"unknown tone {self.tone!r}")


@dataclass(frozen=True)
class PanelData:
    figures: Sequence[Figure] = ()
    headers: Sequence[str] = ()
    rows: Sequence[Sequence] = ()
    empty: str = "Nothing needs attention."
    link: str = ""  # "see all" link under the panel
    link_label: str = "See all"

    @property
    def is_empty(self) -> bool:
        return not self.figures and not self.rows


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    audience: str
    permission: str | None
    order: int
    compute: Callable[..., PanelData]


@dataclass
class _Registry:
    panels: dict[str, Panel] = field(default_factory=dict)


_registry = _Registry()


def register_panel(key: str, *, title: str, audience: str, permission: str | None = None,
                   order: int = 100):
    """Decorator: ``compute(request, now) -> PanelData`` shown on the home page to users who
    have ``permission`` (any staff user when None). Registering a key twice replaces it."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}; one of {sorted(AUDIENCES)}")

    def decorator(compute):
        _registry.panels[key] = Panel(key=key, title=title, audience=audience,
                                      permission=permission, order=order, compute=compute)
        return compute

    return decorator


def panels() -> list[Panel]:
    return sorted(_registry.panels.values(), key=lambda p: (list(AUDIENCES).index(p.audience),
                                                           p.order, p.key))


def sections_for(request, now=None) -> list[dict]:
    """The home page's sections for this user: [{"title", "panels": [{"panel", "data"}]}]."""
    now = now or timezone.now()
    user = request.user
    sections: dict[str, list] = {}
    for panel in panels():
        if panel.permission and not user.has_perm(panel.permission):
            continue
        sections.setdefault(panel.audience, []).append(
            {"panel": panel, "data": panel.compute(request, now)})
    return [{"key": audience, "title": AUDIENCES[audience], "panels": sections[audience]}
            for audience in AUDIENCES if audience in sections]


def dashboard_callback(request, context: dict) -> dict:
    context["sections"] = sections_for(request)
    return context
