"""Every admin page as each demo role, on the demo's data: nothing a person must not see.

One crawl per role of every list the role may open, the first object of each, its history
and every custom page (``tests/screens/crawl.py``). Timing at demo size is a benchmark
(``tests/benchmarks/test_admin_pages_bench.py``), not asserted here."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from amazonsync.sandbox.server import start_sandbox_app

from .crawl import check_text, crawl, raw_codes

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("admin", "ops", "accountant", "controller")
# A list or page whose queries grow with its rows would pass this bound at demo size only
# with under a dozen rows; the demo's lists have hundreds.
MAX_QUERIES = 40


@pytest.fixture
def demo_data():
    url, stop, _app = start_sandbox_app(port=0, orders=300, seed=4)
    try:
        call_command("demo", "--sandbox-url", url, stdout=io.StringIO())
        yield
    finally:
        stop()


def test_every_page_as_every_role_shows_words_and_money_for_people(demo_data, client):
    codes = raw_codes()
    users = {u.username: u for u in get_user_model().objects.filter(username__in=ROLES)}
    assert set(users) == set(ROLES)
    problems, counts, paged = [], {}, set()
    for role in ROLES:
        pages = crawl(client, users[role], codes)
        counts[role] = len(pages)
        paged |= {page.url for page in pages if page.paged}
        for page in pages:
            for problem in page.problems:
                problems.append(f"{role} {page.url}: {problem}")
            if page.queries > MAX_QUERIES:
                problems.append(f"{role} {page.url}: {page.queries} queries")
            if page.status not in (200, 302):
                problems.append(f"{role} {page.url}: HTTP {page.status}")
        client.logout()
    # each role sees a real back office, not an empty one
    assert counts["admin"] > 100 and counts["ops"] > 30 and counts["accountant"] > 20, counts
    # the lists long enough to have a last page were checked for queries growing with rows
    assert {"/admin/orders/order/", "/admin/settlements/settlementline/"} <= paged, paged
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("html, problem", [
    ("<td>-49.5400000000000 USD</td>", "money with 13 places for USD"),
    ("<p>131030.0000 JPY</p>", "money with 4 places for JPY"),
    ("<p>JPY 1,310.5</p>", "money with 1 places for JPY"),
    ("<td>{'ops': {'open': 3}}</td>", "Python repr"),
    ("<td>Decimal('1.00')</td>", "Python repr"),
    ("<div>('succeeded', 'Succeeded')</div>", "Python repr"),
    ("<td>new_new</td>", "raw code 'new_new'"),
    ("<p>ratio 0.123456</p>", "too many decimals"),
    ("<table><tr><td>A1PA6795UKMFR9</td></tr></table>", "raw code 'A1PA6795UKMFR9'"),
])
def test_the_crawl_catches_what_it_looks_for(html, problem):
    found = check_text(html, {"new_new": "New item", "A1PA6795UKMFR9": "Amazon.de (DE)"})
    assert any(problem in p for p in found), found


@pytest.mark.parametrize("html", [
    "<td>1,234.56 USD</td>", "<td>131,030 JPY</td>", "<td>-49.54 EUR</td>",
    "<td>New item</td>", "<script>var x = {'a': 1}; y = 0.1234567;</script>",
    "<td>0.500 BHD</td>", '<td><span title="Sold a different item">new_new</span></td>',
])
def test_the_crawl_accepts_money_and_words(html):
    assert check_text(html, {"new_new": "New item"}) == []
