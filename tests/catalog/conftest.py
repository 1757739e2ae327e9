"""Catalog fixtures: items, listings, and helpers that drive the real admin import views."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

HEADER = ("seller_account,marketplace,seller_sku,channel,asin,fnsku,condition,parent_asin,"
          "product_type,item_sku,price,currency,push_enabled,buffer_quantity,max_quantity")
CSV, XLSX = "0", "1"


@pytest.fixture
def items(db):
    from catalog.models import Item, MerchantStock

    out = {}
    for sku, on_hand in (("MUG-1", 50), ("LAMP-1", 7), ("BAG-1", 0)):
        item = Item.objects.create(sku=sku, name=f"{sku} name")
        MerchantStock.objects.create(item=item, on_hand=on_hand)
        out[sku] = item
    return out


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def xlsx_bytes(*rows: list, header: str = HEADER) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header.split(","))
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def upload(client, content: bytes, *, fmt: str = CSV, name: str = "listings.csv",
           model: str = "listing"):
    """Step 1: the admin import form (dry run and preview)."""
    return client.post(
        reverse(f"admin:catalog_{model}_import"),
        {"resource": "0", "format": fmt,
         "import_file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


def confirm(client, preview, *, model: str = "listing"):
    """Step 2: post the confirm form the preview rendered."""
    form = preview.context["confirm_form"]
    data = {name: form.initial[name] for name in
            ("import_file_name", "original_file_name", "format", "resource")}
    return client.post(reverse(f"admin:catalog_{model}_process_import"), data)


def import_file(client, content: bytes, **kwargs):
    preview = upload(client, content, **kwargs)
    assert preview.status_code == 200
    assert preview.context.get("confirm_form") is not None, _errors(preview)
    return preview, confirm(client, preview, model=kwargs.get("model", "listing"))


def _errors(response) -> str:
    text = response.content.decode()
    start = text.find("Nothing was imported")
    if start < 0:
        start = text.find("errorlist")
    return text[start:start + 3000]


def page_text(response) -> str:
    import html
    import re

    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ",
                                                     response.content.decode())))


@pytest.fixture
def sandbox(db, monkeypatch):
    """A live local SP-API sandbox and a seller account pointed at it."""
    import datetime

    from django.utils import timezone

    from amazonsync.sandbox import world as sandbox_world
    from amazonsync.sandbox.server import start_sandbox_app
    from amazonsync.spapi.client import SpApiClient
    from marketplaces.services import account_upsert

    # feeds are processed after a few polls: poll fast instead of waiting 5 s, 10 s...
    monkeypatch.setattr(SpApiClient, "poll_initial", 0.01)
    monkeypatch.setattr(SpApiClient, "poll_max", 0.02)
    url, stop, box = start_sandbox_app(seed=1, orders=2000)
    account = account_upsert(
        selling_partner_id=sandbox_world.DEFAULT_SELLER, name="Sandbox Seller", region="NA",
        lwa_client_id=sandbox_world.LWA_CLIENT_ID,
        client_secret=sandbox_world.LWA_CLIENT_SECRET,
        refresh_token=sandbox_world.REFRESH_TOKEN,
        rotated_on=timezone.localdate() - datetime.timedelta(days=5),
        api_base_url=url, token_url=f"{url}/auth/o2/token",
        marketplace_codes=["US", "CA", "GB", "DE"],
    )
    box.account = account
    box.url = url
    try:
        yield box
    finally:
        stop()
