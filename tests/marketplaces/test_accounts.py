"""Which seller account a file given by hand is for; marketplace codes as people type them."""

from __future__ import annotations

import pytest

from marketplaces.models import SellerAccount
from marketplaces.selectors import marketplace_code
from marketplaces.services import (
    IMPORTED_FILES_ID,
    AccountChoiceError,
    account_for_import,
    account_upsert,
)


def test_without_any_account_an_inactive_imported_files_account_is_made_once(db):
    first = account_for_import()
    assert (first.selling_partner_id, first.name, first.active) == (
        IMPORTED_FILES_ID, "Imported files", False)
    assert account_for_import() == first
    assert SellerAccount.objects.count() == 1


def test_the_only_account_or_the_one_named(account):
    assert account_for_import() == account
    assert account_for_import(selling_partner_id="A1TESTSELLER") == account
    with pytest.raises(AccountChoiceError, match=r"no seller account 'A9NOBODY' \(known: "
                       r"A1TESTSELLER\)"):
        account_for_import(selling_partner_id="A9NOBODY")
    account_upsert(selling_partner_id="A2OTHER", name="Other", region="NA")
    with pytest.raises(AccountChoiceError, match="several seller accounts: give --account"):
        account_for_import()
    assert not SellerAccount.objects.filter(selling_partner_id=IMPORTED_FILES_ID).exists()


def test_marketplace_codes_as_typed():
    assert marketplace_code(" uk ") == "GB"
    assert marketplace_code("de") == "DE"
