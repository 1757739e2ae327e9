"""``manage.py import_report`` for settlement files: JSON document, idempotency, exit
status, account resolution."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from settlements.models import Settlement, SettlementLine
from tests.settlements.settlement_samples import settlement_file

TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_report", "--type", TYPE, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_json_document_and_second_run_unchanged(account, tmp_path):
    path = tmp_path / "settlement.txt.gz"
    path.write_bytes(settlement_file(gzip=True))
    out, _ = run(str(path), "--json")
    doc = json.loads(out)
    assert list(doc) == ["settlements"]
    s = doc["settlements"][0]
    assert s["settlement_id"] == "11223344556" and s["currency"] == "EUR"
    assert s["total_amount"] == "91.53" and s["sum_of_lines"] == "91.53"
    assert s["drift"] == "0.00" and s["lines"] == 13 and s["unmapped_lines"] == 0
    assert s["journal"]["balanced"] is True and s["journal"]["status"] == "draft"
    assert s["journal"]["debit_total"] == s["journal"]["credit_total"]
    assert s["created"] is True
    out, _ = run(str(path), "--json")
    assert json.loads(out)["settlements"][0]["created"] is False
    assert Settlement.objects.count() == 1


def test_several_files_in_one_document(account, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(settlement_file())
    b.write_bytes(settlement_file(settlement_id="55555555555", currency="GBP"))
    doc = json.loads(run(str(a), str(b), "--json")[0])
    assert [s["settlement_id"] for s in doc["settlements"]] == ["11223344556", "55555555555"]


def test_bad_file_exits_non_zero_and_stores_nothing(account, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_report", "--type", TYPE, str(path), "--json", stdout=out)
    doc = json.loads(out.getvalue())
    assert doc["settlements"] == [] and "empty" in doc["errors"][0]["error"]
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()


def test_conflict_exits_non_zero(account, tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(settlement_file())
    run(str(path))
    path.write_bytes(settlement_file(total="1.00"))
    with pytest.raises(CommandError):
        run(str(path))


def test_unknown_report_type(account, tmp_path):
    with pytest.raises(CommandError, match="unknown report type"):
        call_command("import_report", "--type", "NOPE", str(tmp_path / "x"))


def test_without_account_creates_imported_files_account(db, tmp_path):
    from marketplaces.models import SellerAccount

    path = tmp_path / "a.txt"
    path.write_bytes(settlement_file())
    run(str(path))
    account = SellerAccount.objects.get()
    assert account.name == "Imported files"
    assert Settlement.objects.get().account == account


def test_several_accounts_need_account(account, tmp_path):
    from marketplaces.services import account_upsert

    account_upsert(selling_partner_id="A2OTHER", name="Other", region="EU")
    path = tmp_path / "a.txt"
    path.write_bytes(settlement_file())
    with pytest.raises(CommandError, match="--account"):
        run(str(path))
    out, _ = run(str(path), "--account", "A2OTHER", "--json")
    assert json.loads(out)["settlements"][0]["created"] is True
    assert Settlement.objects.get().account.selling_partner_id == "A2OTHER"
