"""Alert digests: one per team, each event once, by e-mail (EMAIL_URL) and to a webhook;
tested with Django's in-memory outbox and against local receivers (a small SMTP server and
an HTTP server on 127.0.0.1)."""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import logging
import socketserver
import threading
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from amazonsync import health
from amazonsync.alerts import alerts_send
from amazonsync.emailurl import BadEmailUrl, address_list, email_settings
from amazonsync.models import AlertSent, SyncException
from amazonsync.services import exception_record

US = "ATVPDKIKX0DER"
TEAMS = {"ops": ["ops@example.com", "lead@example.com"], "merch": [],
         "finance": ["books@example.com"]}
NOW = datetime.datetime(2026, 12, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def no_metrics(monkeypatch):
    """Health figures stay out of the exception tests (each test adds its own)."""
    monkeypatch.setattr(health, "_METRICS", {})


@pytest.fixture
def teams(settings):
    settings.ALERT_EMAILS = TEAMS
    settings.ALERT_WEBHOOK_URL = ""
    settings.SITE_URL = "https://backoffice.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _critical(account, key, *, team="ops", message="The LWA client secret expired."):
    return exception_record(
        flow="orders", object_kind="seller_account", object_key=key,
        reason_code="lwa_secret_expired", message=message, owner_team=team,
        account=account, marketplace=account.marketplaces.get(code="US"), severity="critical")


# --- EMAIL_URL -------------------------------------------------------------------------------


def test_email_url_parser():
    smtp = email_settings("smtp://alerts%40shop.com:p%40ss@mail.example.com:2525")
    assert smtp["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
    assert (smtp["EMAIL_HOST"], smtp["EMAIL_PORT"]) == ("mail.example.com", 2525)
    assert (smtp["EMAIL_HOST_USER"], smtp["EMAIL_HOST_PASSWORD"]) == ("alerts@shop.com", "p@ss")
    assert not smtp["EMAIL_USE_TLS"] and not smtp["EMAIL_USE_SSL"]
    assert email_settings("smtps://u:p@h")["EMAIL_USE_SSL"]
    assert email_settings("smtps://u:p@h")["EMAIL_PORT"] == 465
    tls = email_settings("smtp://h?tls=1&timeout=7")
    assert tls["EMAIL_USE_TLS"] and tls["EMAIL_PORT"] == 587 and tls["EMAIL_TIMEOUT"] == 7
    assert email_settings("smtp+tls://h:26")["EMAIL_USE_TLS"]
    assert email_settings("console://")["EMAIL_BACKEND"].endswith("console.EmailBackend")
    assert email_settings("locmem://")["EMAIL_BACKEND"].endswith("locmem.EmailBackend")
    assert email_settings("file:///tmp/outbox")["EMAIL_FILE_PATH"] == "/tmp/outbox"
    for bad in ("pigeon://x", "smtp://", "smtp://h:port", "smtps://h?tls=1", "file://"):
        with pytest.raises(BadEmailUrl):
            email_settings(bad)
    assert address_list(" a@x.com, b@x.com;c@x.com ,") == ["a@x.com", "b@x.com", "c@x.com"]


# --- digests (in-memory outbox) ---------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_one_digest_per_team_and_each_event_once(account, teams, no_metrics):
    _critical(account, "A1", message="Secret of Test Seller expired.")
    _critical(account, "A2", message="Refresh token refused.")
    _critical(account, "SETTLEMENT-9", team="finance", message="Settlement 9 does not balance.")
    exception_record(flow="orders", object_kind="listing", object_key="SKU-1",
                     reason_code="unmapped_sku", message="SKU-1 is not mapped",
                     owner_team="ops", account=account, severity="normal")
    assert alerts_send() == 2
    assert len(mail.outbox) == 2
    by_to = {tuple(m.to): m for m in mail.outbox}
    ops = by_to[tuple(TEAMS["ops"])]
    assert ops.subject == "[Amazon back office] Ops: new critical problems (2)"
    assert "Secret of Test Seller expired. (Test Seller · Amazon.com (US))" in ops.body
    assert "Refresh token refused." in ops.body and "SKU-1" not in ops.body
    exc = SyncException.objects.get(object_key="A1")
    assert f"https://backoffice.example.com/admin/amazonsync/syncexception/{exc.pk}/change/" \
        in ops.body
    finance = by_to[("books@example.com",)]
    assert "Settlement 9 does not balance." in finance.body and "A1" not in finance.body

    # nothing new: no mail; one new critical: a digest with only that one
    assert alerts_send() == 0 and len(mail.outbox) == 2
    _critical(account, "A3", message="A third account problem.")
    assert alerts_send() == 1
    assert "A third account problem." in mail.outbox[2].body
    assert "Refresh token refused." not in mail.outbox[2].body
    assert AlertSent.objects.filter(kind="critical").count() == 4


def test_sla_breaches_are_alerted_when_they_happen(account, teams, no_metrics):
    with time_machine.travel(NOW, tick=False):
        exc = exception_record(flow="orders", object_kind="listing", object_key="SKU-2",
                               reason_code="unmapped_sku", message="SKU-2 is not mapped",
                               owner_team="ops", account=account, severity="high")
        assert alerts_send() == 0 and not mail.outbox  # within its SLA
    with time_machine.travel(exc.due_at + datetime.timedelta(minutes=1), tick=False):
        assert alerts_send() == 1
        assert "Past their deadline (SLA) (1)" in mail.outbox[0].body
        assert "SKU-2 is not mapped" in mail.outbox[0].body and "[High, due" in mail.outbox[0].body
        assert alerts_send() == 0  # once


def test_metrics_turning_red_are_alerted_once_per_turn(account, teams, monkeypatch):
    state = {"value": Decimal(5)}
    monkeypatch.setattr(health, "_METRICS", {})
    health.register_metric("test_latency", label="Order sync latency", unit="s",
                           target=Decimal(10), amber=Decimal(20), higher_is_better=False,
                           position=1)(lambda now: {"US": {"value": state["value"]},
                                                    "CA": {"value": Decimal(1)}})
    assert alerts_send() == 0
    state["value"] = Decimal(60)
    assert alerts_send() == 1
    body = mail.outbox[0].body
    assert "Health turned red (1)" in body and "Order sync latency in US" in body
    assert "https://backoffice.example.com/admin/health/#mkt-US" in body
    assert alerts_send() == 0  # still red: said already
    state["value"] = Decimal(5)
    assert alerts_send() == 0
    assert AlertSent.objects.get(kind="red", key="US/test_latency").cleared_at is not None
    state["value"] = Decimal(60)
    assert alerts_send() == 1 and len(mail.outbox) == 2  # red again: alerted again


def test_a_team_without_recipients_keeps_its_events(account, teams, settings, no_metrics):
    settings.ALERT_EMAILS = {"ops": [], "merch": [], "finance": []}
    _critical(account, "A1")
    assert alerts_send() == 0 and not AlertSent.objects.exists()
    settings.ALERT_EMAILS = TEAMS
    assert alerts_send() == 1 and AlertSent.objects.count() == 1


# --- local receivers ------------------------------------------------------------------------


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for Django's backend: EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        box = self.server.box
        self.reply("220 test.local ESMTP")
        envelope: dict = {"rcpt": []}
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-test.local\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
            elif verb == "AUTH":
                parts = line.split()
                if parts[1].upper() == "PLAIN":
                    token = parts[2] if len(parts) > 2 else None
                    if token is None:
                        self.reply("334 ")
                        token = self.rfile.readline().decode().strip()
                    _, user, password = base64.b64decode(token).decode().split("\0")
                else:  # LOGIN
                    self.reply("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.rfile.readline().strip()).decode()
                    self.reply("334 UGFzc3dvcmQ6")
                    password = base64.b64decode(self.rfile.readline().strip()).decode()
                box["auth"] = (user, password)
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                envelope = {"from": line.split(":", 1)[1].strip(), "rcpt": []}
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["rcpt"].append(line.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk.decode())
                box["messages"].append({**envelope, "data": "".join(data)})
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:  # RSET, NOOP
                self.reply("250 OK")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.box = {"messages": []}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class _HookHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HookHandler)
    server.posts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_digest_over_smtp_from_email_url(account, teams, smtp_server, no_metrics):
    port = smtp_server.server_address[1]
    with override_settings(**email_settings(f"smtp://alerts:s3cret@127.0.0.1:{port}")):
        _critical(account, "A1", message="Secret of Test Seller expired.")
        assert alerts_send() == 1
    (message,) = smtp_server.box["messages"]
    assert smtp_server.box["auth"] == ("alerts", "s3cret")
    assert sorted(message["rcpt"]) == sorted(TEAMS["ops"])
    assert "Subject: [Amazon back office] Ops: new critical problems (1)" in message["data"]
    assert "Secret of Test Seller expired." in message["data"]


def test_digest_posted_to_the_webhook(account, teams, settings, webhook, no_metrics):
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    _critical(account, "A1", message="Secret of Test Seller expired.")
    _critical(account, "S1", team="finance", message="Settlement 9 does not balance.")
    assert alerts_send() == 2
    assert len(webhook.posts) == 2 and len(mail.outbox) == 2
    texts = sorted(body["text"] for _, body in webhook.posts)
    assert all(ctype == "application/json" for ctype, _ in webhook.posts)
    assert texts[0].startswith("[Amazon back office] Finance: new critical problems (1)")
    assert "Settlement 9 does not balance." in texts[0]
    assert "Secret of Test Seller expired." in texts[1] and "Settlement 9" not in texts[1]


def test_a_webhook_down_is_logged_and_mail_still_goes(account, teams, settings, caplog,
                                                      no_metrics):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{port}/hook"
    settings.ALERT_WEBHOOK_TIMEOUT = 1
    _critical(account, "A1")
    with caplog.at_level(logging.WARNING, logger="amazonsync.alerts"):
        assert alerts_send() == 1
    assert len(mail.outbox) == 1
    assert "could not be posted to the webhook" in caplog.text


def test_the_housekeeping_task_is_scheduled_every_five_minutes(db):
    from django_q.models import Schedule

    from amazonsync.schedules import schedules_sync

    schedules_sync()
    schedule = Schedule.objects.get(name="alerts")
    assert schedule.func == "amazonsync.tasks.alerts_send"
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 5)


def test_a_long_digest_lists_the_first_items_and_counts_the_rest(account, teams, no_metrics):
    from amazonsync.alerts import MAX_ITEMS

    for i in range(MAX_ITEMS + 5):
        _critical(account, f"K{i}", message=f"Problem number {i}.")
    assert alerts_send() == 1
    body = mail.outbox[0].body
    assert f"New critical problems ({MAX_ITEMS + 5})" in body
    assert "Problem number 0." in body and f"Problem number {MAX_ITEMS + 4}." not in body
    assert "… and 5 more" in body
    assert AlertSent.objects.count() == MAX_ITEMS + 5  # all of them were said


def test_alerts_sent_list_says_what_each_was_about(client, superuser, account, teams,
                                                   monkeypatch):
    from django.urls import reverse

    monkeypatch.setattr(health, "_METRICS", {})
    health.register_metric("test_latency", label="Order sync latency", unit="s",
                           target=Decimal(10), amber=Decimal(20), higher_is_better=False,
                           position=1)(lambda now: {"US": {"value": Decimal(99)}})
    exc = _critical(account, "A1")
    assert alerts_send() == 1
    client.force_login(superuser)
    html = client.get(reverse("admin:amazonsync_alertsent_changelist")).content.decode()
    assert "Order sync latency in US" in html and f"Exception #{exc.pk}" in html
    assert "Health metric turned red" in html and "New critical exception" in html
