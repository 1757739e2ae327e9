"""Exceptions are resolved or ignored only by their owning team (or a superuser): Ops works
ops and merch exceptions, Accounting finance ones. The service refuses, naming the team; the
admin offers only what the user may do and reports the rows it left alone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from amazonsync import services
from amazonsync.models import SyncException
from amazonsync.permissions import ExceptionOwnershipError

pytestmark = pytest.mark.django_db

QUEUE = "admin:amazonsync_syncexception_changelist"


def _exc(account, team: str, key: str) -> SyncException:
    return services.exception_record(
        flow="t", object_kind="thing", object_key=key, reason_code="r", message="m",
        owner_team=team, account=account,
    )


@pytest.fixture
def queue(account):
    return {team: _exc(account, team, team) for team in ("ops", "merch", "finance")}


def _status(exc) -> str:
    exc.refresh_from_db()
    return exc.status


def test_ops_cannot_resolve_finance_exceptions_and_nothing_changes(queue, ops_user):
    with pytest.raises(ExceptionOwnershipError) as caught:
        services.exceptions_resolve(
            exception_ids=[queue["merch"].pk, queue["finance"].pk], user=ops_user
        )
    message = str(caught.value)
    assert "finance team" in message and "Accounting" in message
    assert f"#{queue['finance'].pk}" in message and "Nothing was changed" in message
    assert caught.value.refused == {"finance": [queue["finance"].pk]}
    assert _status(queue["merch"]) == _status(queue["finance"]) == "open"  # all or nothing


def test_ops_cannot_ignore_finance_exceptions(queue, ops_user):
    with pytest.raises(ExceptionOwnershipError, match="finance team"):
        services.exceptions_ignore(exception_ids=[queue["finance"].pk], user=ops_user,
                                   note="looks fine")
    assert _status(queue["finance"]) == "open"


def test_each_team_works_its_own_exceptions(queue, ops_user, accounting_user, superuser):
    assert services.exceptions_resolve(
        exception_ids=[queue["ops"].pk, queue["merch"].pk], user=ops_user) == 2
    with pytest.raises(ExceptionOwnershipError, match="ops team"):
        services.exceptions_ignore(exception_ids=[queue["ops"].pk], user=accounting_user,
                                   note="x")
    assert services.exceptions_ignore(exception_ids=[queue["finance"].pk],
                                      user=accounting_user, note="booked by hand") == 1
    assert [_status(queue[t]) for t in ("ops", "merch", "finance")] == \
        ["resolved", "resolved", "ignored"]
    # a superuser works every team's; the system itself (user None) too
    other = _exc(queue["ops"].account, "finance", "other")
    assert services.exceptions_resolve(exception_ids=[other.pk], user=superuser) == 1
    again = _exc(queue["ops"].account, "finance", "again")
    assert services.exceptions_resolve(exception_ids=[again.pk], user=None) == 1


def test_a_user_in_no_team_group_resolves_nothing(queue, django_user_model):
    loner = django_user_model.objects.create_user("loner", password="pw-x-123456",
                                                  is_staff=True)
    loner.user_permissions.add(Permission.objects.get(codename="change_syncexception"))
    with pytest.raises(ExceptionOwnershipError, match="ops team"):
        services.exceptions_resolve(exception_ids=[queue["ops"].pk], user=loner)


def test_rows_that_would_not_change_are_not_refused(queue, ops_user, accounting_user):
    services.exceptions_resolve(exception_ids=[queue["finance"].pk], user=accounting_user)
    # already resolved: resolving it again changes nothing, so ops is not refused
    assert services.exceptions_resolve(exception_ids=[queue["finance"].pk], user=ops_user) == 0


# --- admin ------------------------------------------------------------------------------


def _post_action(client, action, ids, **extra):
    return client.post(reverse(QUEUE), {"action": action, "_selected_action": ids, **extra},
                       follow=True)


def test_admin_bulk_resolve_by_ops_leaves_finance_rows_and_says_so(client, queue, ops_user):
    client.force_login(ops_user)
    ids = [e.pk for e in queue.values()]
    response = _post_action(client, "resolve_selected", ids, apply="1", note="fixed")
    assert response.status_code == 200
    assert [_status(queue[t]) for t in ("ops", "merch", "finance")] == \
        ["resolved", "resolved", "open"]
    text = " ".join(str(m) for m in response.context["messages"])
    assert "2 exception(s) marked resolved" in text
    assert "Left as they were" in text and "finance team" in text
    assert f"#{queue['finance'].pk}" in text and "Accounting" in text


def test_admin_bulk_ignore_by_ops_leaves_finance_rows(client, queue, ops_user):
    client.force_login(ops_user)
    ids = [queue["finance"].pk, queue["merch"].pk]
    confirm = client.post(reverse(QUEUE), {"action": "ignore_selected",
                                           "_selected_action": ids})
    assert confirm.status_code == 200
    assert b"not yours to ignore: finance" in confirm.content
    assert b"ignore 1 exception(s)" in confirm.content
    response = _post_action(client, "ignore_selected", ids, apply="1", note="discontinued")
    assert _status(queue["merch"]) == "ignored" and _status(queue["finance"]) == "open"
    text = " ".join(str(m) for m in response.context["messages"])
    assert "1 exception(s) ignored" in text and "finance team" in text


def test_admin_offers_only_what_the_user_may_do(client, ops_user, accounting_user, superuser,
                                                django_user_model, queue):
    def actions(user):
        client.force_login(user)
        response = client.get(reverse(QUEUE))
        assert response.status_code == 200
        return dict((name, str(label)) for name, label in
                    response.context["action_form"].fields["action"].choices)

    ops = actions(ops_user)
    assert ops["resolve_selected"].endswith("(merch and ops exceptions only)")
    assert ops["ignore_selected"].endswith("(merch and ops exceptions only)")
    assert actions(accounting_user)["resolve_selected"].endswith("(finance exceptions only)")
    assert actions(superuser)["resolve_selected"] == "Mark selected as resolved"

    loner = django_user_model.objects.create_user("loner", password="pw-x-123456",
                                                  is_staff=True)
    loner.user_permissions.add(*Permission.objects.filter(
        codename__in=["change_syncexception", "view_syncexception"]))
    offered = actions(loner)
    assert "resolve_selected" not in offered and "ignore_selected" not in offered
    assert "retry_selected" in offered
