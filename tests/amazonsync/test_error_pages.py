"""Friendly 403, 404 and 500 pages in the admin's look, in plain words with a way home; the
403 names the missing permission and the group that has it. A refusal is logged as one line
(who, method, path, why) without a traceback; a real error is still logged in full."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import path

from amazonsync.urls import urlpatterns as project_urls

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("the database fell over")


def _refuse_with_words(request):
    raise PermissionDenied("Only the controller approves a batch.")


urlpatterns = [
    path("boom/", _boom),
    path("refuse/", _refuse_with_words),
    *project_urls,
]
handler403 = "amazonsync.permissions.permission_denied"

WITH_HANDLER = override_settings(ROOT_URLCONF=__name__)
BATCH = "/admin/settlements/journalbatch/1/change/"


@WITH_HANDLER
def test_403_names_the_permission_and_the_group(client, ops_user):
    client.force_login(ops_user)
    response = client.get(BATCH)
    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot open this page" in html
    assert "view journal batches" in html and "settlements.view_journalbatch" in html
    assert "The Accounting group has it." in html
    assert f"signed in as <strong>{ops_user.username}</strong>, in the Ops group" in html
    assert 'href="/admin/"' in html and "unfold/fonts/inter" in html


@WITH_HANDLER
def test_403_with_its_own_reason_shows_it(client, ops_user):
    client.force_login(ops_user)
    response = client.get("/refuse/")
    assert response.status_code == 403
    assert "Only the controller approves a batch." in response.content.decode()


def test_403_without_the_handler_is_friendly_too(client, ops_user):
    client.force_login(ops_user)
    response = client.get(BATCH)
    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot open this page" in html and "in the Ops group" in html


@WITH_HANDLER
def test_a_refusal_is_logged_as_one_line_without_traceback(client, ops_user, caplog):
    client.force_login(ops_user)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get(BATCH)
        client.get("/refuse/")
    lines = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in lines] == [
        f"403 {ops_user.username} GET {BATCH}: no permission",
        f"403 {ops_user.username} GET /refuse/: Only the controller approves a batch.",
    ]
    assert all(r.exc_info is None and not r.exc_text for r in lines)
    assert "Traceback" not in caplog.text


def test_404_in_plain_words(client, ops_user):
    client.force_login(ops_user)
    response = client.get("/admin/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist" in html and 'href="/admin/"' in html


@WITH_HANDLER
def test_500_is_friendly_and_logged_in_full(ops_user, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(ops_user)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html and 'href="/admin/"' in html
    assert "the database fell over" not in html
    errors = [r for r in caplog.records if r.name == "django.request"]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "RuntimeError: the database fell over" in caplog.text
