"""What leaves as a spreadsheet cannot run as one, and comes back as it left: the journal
CSV and the GL chart and mapping exports neutralise formulas, their keys survive a round
trip through the admin; the GL imports refuse what they cannot store truthfully (an
unknown type, a "maybe" for true/false, a key twice in one file, a role clash) in plain
words, all or nothing."""

from __future__ import annotations

import csv
import io
import re

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from amazonsync.spreadsheets import neutralise, restore
from settlements.models import GLAccount, GLMapping
from settlements.resources import GLAccountResource, GLMappingResource
from settlements.services import (
    journal_batch_approve,
    journal_batch_mark_ready,
    journal_batches_export,
    settlement_import,
)
from tests.settlements.settlement_samples import settlement_file

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://e.x","x")', "@SUM(A1)", "+1+1", "-2+3", "\t=1+1",
           "\r=1", "'=already quoted"]
# keys as the admin can store them: its forms and the import strip surrounding whitespace
ROUND_TRIP = [h for h in HOSTILE if h == h.strip()]
FORMULA = re.compile(r"^[=+\-@\t\r]")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def assert_inert(rows):
    for row in rows:
        for value in row:
            assert not (FORMULA.match(value) and not PLAIN_NUMBER.match(value)), row


@pytest.mark.parametrize("code", HOSTILE[:6])
def test_journal_csv_neutralises_formulas(account, accounting_user, accounting_user2, code):
    hostile = GLAccount.objects.create(code=code, name="=cmd|' /C calc'!A0", type="income")
    GLMapping.objects.filter(transaction_type="Order", amount_description="Principal").update(
        gl_account=hostile
    )
    s = settlement_import(account=account, source=settlement_file(), name="s.txt").settlement
    jan = s.journal_batches.order_by("period").first()
    journal_batch_mark_ready(batch=jan, user=accounting_user)
    journal_batch_approve(batch=jan, user=accounting_user2)
    text = journal_batches_export(batches=[jan], user=accounting_user)
    rows = list(csv.reader(io.StringIO(text)))
    assert_inert(rows)
    accounts = {row[1] for row in rows[1:]}
    assert "'" + code in accounts  # inert, and still the code (nothing stripped)
    assert any(row[2] == "100.00" or row[3] == "100.00" for row in rows)  # numbers stay
    memos = [row[5] for row in rows[1:]]
    assert any("=cmd|' /C calc'!A0" in memo for memo in memos)


@pytest.mark.parametrize("value", [*HOSTILE, "plain", "-12.50", "", "O'Brien"])
def test_neutralise_and_restore_round_trip(value):
    assert restore(neutralise(value)) == value
    if FORMULA.match(value) and not PLAIN_NUMBER.match(value):
        assert neutralise(value).startswith("'")


# --------------------------------------------------------------------------- admin round trip


def export_through_admin(client, model: str, fmt: str, columns) -> bytes:
    response = client.post(reverse(f"admin:settlements_{model}_export"), {
        "format": fmt, "resource": "0",
        **{f"{model}resource_{c}": "on" for c in columns}})
    assert response.status_code == 200, response.content[:500]
    return response.content


def import_through_admin(client, model: str, content: bytes, fmt: str = "0", name="f.csv"):
    preview = client.post(reverse(f"admin:settlements_{model}_import"), {
        "resource": "0", "format": fmt,
        "import_file": SimpleUploadedFile(name, content)})
    assert preview.status_code == 200
    form = preview.context.get("confirm_form")
    if form is None:
        return preview, None
    data = {k: form.initial[k] for k in
            ("import_file_name", "original_file_name", "format", "resource")}
    return preview, client.post(reverse(f"admin:settlements_{model}_process_import"), data)


GL_COLUMNS = ("code", "name", "type", "role", "active")


@pytest.mark.parametrize("fmt", ["0", "1"])  # CSV, XLSX
def test_gl_chart_export_is_inert_and_reimports_unchanged(client, superuser, fmt):
    client.force_login(superuser)
    for i, code in enumerate(ROUND_TRIP):
        GLAccount.objects.create(code=code, name=f"-hostile {i}", type="expense")
    before = sorted(GLAccount.objects.values_list("code", "name", "type", "role", "active"))
    content = export_through_admin(client, "glaccount", fmt, GL_COLUMNS)
    if fmt == "0":
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    else:
        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(content)).active
        rows = [[str(v) if v is not None else "" for v in row]
                for row in sheet.iter_rows(values_only=True)]
    assert_inert(rows)
    codes = {row[0] for row in rows[1:]}
    assert {neutralise(c) for c in ROUND_TRIP} <= codes
    preview, done = import_through_admin(client, "glaccount", content, fmt,
                                         "chart.csv" if fmt == "0" else "chart.xlsx")
    assert done is not None, preview.content.decode()[:3000]
    assert sorted(GLAccount.objects.values_list("code", "name", "type", "role", "active")) \
        == before  # every key came back exactly: nothing new, nothing changed


def test_gl_mapping_export_reimports_unchanged(client, superuser):
    client.force_login(superuser)
    hostile = GLAccount.objects.create(code="=X", name="x", type="expense")
    GLMapping.objects.create(transaction_type="=Fee", amount_description="+odd",
                             gl_account=hostile, memo="@memo")
    before = sorted(GLMapping.objects.values_list(
        "pk", "transaction_type", "amount_type", "amount_description", "pattern",
        "marketplace", "gl_account", "memo"))
    content = export_through_admin(client, "glmapping", "0", (
        "id", "transaction_type", "amount_type", "amount_description", "pattern",
        "marketplace", "gl_account", "memo"))
    assert_inert(list(csv.reader(io.StringIO(content.decode("utf-8-sig")))))
    preview, done = import_through_admin(client, "glmapping", content)
    assert done is not None, preview.content.decode()[:3000]
    after = sorted(GLMapping.objects.values_list(
        "pk", "transaction_type", "amount_type", "amount_description", "pattern",
        "marketplace", "gl_account", "memo"))
    assert after == before


# --------------------------------------------------------------------------- GL import


def chart(*rows, headers=GL_COLUMNS):
    data = tablib.Dataset(headers=list(headers))
    for row in rows:
        data.append(list(row))
    return data


def errors_of(result) -> str:
    parts = [str(e.error) for row in result.row_errors() for e in row[1]]
    for invalid in result.invalid_rows:
        parts.append(str(invalid.error_dict))
    parts += [str(e.error) for e in result.base_errors]
    return "\n".join(parts)


def import_chart(*rows, **kw):
    result = GLAccountResource().import_data(chart(*rows, **kw), dry_run=False)
    return result, errors_of(result)


def test_gl_import_refuses_an_unknown_type():
    result, text = import_chart(["9100", "Bogus", "bogus", "", "true"])
    assert result.has_validation_errors()
    assert 'Line 2, column "type": "bogus" is not a GL account type' in text
    assert "asset, liability, equity, income, expense" in text
    assert not GLAccount.objects.filter(code="9100").exists()


@pytest.mark.parametrize("word", ["maybe", "2", "nope", "t"])
def test_gl_import_refuses_anything_but_true_or_false(word):
    result, text = import_chart(["9100", "Maybe", "expense", "", word])
    assert result.has_validation_errors()
    assert f'"{word}" is neither true nor false' in text
    assert not GLAccount.objects.filter(code="9100").exists()


@pytest.mark.parametrize("word, active", [("true", True), ("FALSE", False), ("yes", True),
                                          ("no", False), ("1", True), ("0", False),
                                          ("", True)])
def test_gl_import_reads_the_documented_spellings(word, active):
    result, text = import_chart(["9100", "Spelled", "Expense", "", word])
    assert not result.has_validation_errors() and not result.has_errors(), text
    account = GLAccount.objects.get(code="9100")
    assert account.active is active and account.type == "expense"


def test_gl_import_refuses_a_code_twice_naming_both_lines():
    result, text = import_chart(["9100", "First", "expense", "", "true"],
                                ["9200", "Other", "expense", "", "true"],
                                ["9100", "Second", "income", "", "false"])
    assert result.has_validation_errors()
    assert "lines 2 and 4" in text and "only once" in text
    assert not GLAccount.objects.filter(code__in=["9100", "9200"]).exists()  # all or nothing


def test_gl_import_says_a_role_clash_in_words():
    holder = GLAccount.objects.get(role="amazon_clearing")
    result, text = import_chart(["9100", "Second clearing", "asset", "amazon_clearing", "1"])
    assert result.has_validation_errors()
    assert f'the role "amazon_clearing" already belongs to GL account {holder.code}' in text
    assert "uniq_glaccount_role" not in text and "duplicate key" not in text
    result, text = import_chart(["9100", "A", "asset", "bank_clearing", "1"],
                                ["9200", "B", "asset", "bank_clearing", "1"])
    assert "lines 2 and 3" in text
    result, text = import_chart(["9100", "A", "asset", "treasure", "1"])
    assert '"treasure" is not a GL account role' in text


def test_gl_import_refuses_missing_columns_and_long_text():
    result, text = import_chart(["9100", "x"], headers=("code", "name"))
    assert "The file has no column type" in text
    result, text = import_chart(["9" * 40, "Long", "expense", "", "1"])
    assert "the code is longer than 32 characters (40)" in text
    assert not GLAccount.objects.filter(name="Long").exists()


def mapping(*rows):
    data = tablib.Dataset(headers=["id", "transaction_type", "amount_type",
                                   "amount_description", "pattern", "marketplace",
                                   "gl_account", "memo"])
    for row in rows:
        data.append(list(row))
    result = GLMappingResource().import_data(data, dry_run=False)
    return result, errors_of(result)


def test_gl_mapping_import_refusals_in_plain_words():
    result, text = mapping(["", "NewFee", "", "", "maybe", "", "5090", ""])
    assert '"maybe" is neither true nor false' in text
    result, text = mapping(["", "NewFee", "", "", "0", "", "NOPE", ""])
    assert 'no GL account has the code "NOPE"' in text
    result, text = mapping(["", "NewFee", "", "", "0", "XX", "5090", ""])
    assert '"XX" is not a marketplace code' in text
    result, text = mapping(["", "NewFee", "", "", "0", "", "5090", "a"],
                           ["", "newfee", "", "", "false", "", "5040", "b"])
    assert "lines 2 and 3" in text
    existing = GLMapping.objects.filter(marketplace__isnull=True).exclude(
        transaction_type="").first()
    result, text = mapping(["", existing.transaction_type, existing.amount_type,
                            existing.amount_description, str(existing.pattern).lower(), "",
                            "5090", ""])
    assert f"rule {existing.pk} already maps" in text
    assert "uniq_glmapping" not in text and "duplicate key" not in text
    result, text = mapping(["99999", "NewFee", "", "", "0", "", "5090", ""])
    assert "no GL mapping rule has id 99999" in text
    assert not GLMapping.objects.filter(transaction_type__iexact="NewFee").exists()


# --------------------------------------------------------------------------- the shared helper


def test_carrier_mapping_keys_round_trip_through_the_shared_formats(client, superuser):
    """Orders' carrier mappings export through the same formats (amazonsync.spreadsheets):
    a key starting with = or - comes back as itself, not stripped into a new row."""
    from orders.models import CarrierMapping

    client.force_login(superuser)
    CarrierMapping.objects.create(carrier="=DHL", ship_method="-express",
                                  amazon_carrier_code="DHL", shipping_method="@Paket")
    before = list(CarrierMapping.objects.values_list("carrier", "ship_method",
                                                     "shipping_method"))
    columns = ("carrier", "ship_method", "amazon_carrier_code", "amazon_carrier_name",
               "shipping_method", "active")
    response = client.post(reverse("admin:orders_carriermapping_export"), {
        "format": "0", "resource": "0",
        **{f"carriermappingresource_{c}": "on" for c in columns}})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert_inert(rows)
    assert ["'=DHL", "'-express"] == rows[1][:2]
    preview = client.post(reverse("admin:orders_carriermapping_import"), {
        "resource": "0", "format": "0",
        "import_file": SimpleUploadedFile("carriers.csv", response.content)})
    form = preview.context.get("confirm_form")
    assert form is not None
    client.post(reverse("admin:orders_carriermapping_process_import"), {
        k: form.initial[k] for k in
        ("import_file_name", "original_file_name", "format", "resource")})
    assert list(CarrierMapping.objects.values_list("carrier", "ship_method",
                                                   "shipping_method")) == before
