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


def test_the_imported_files_account_learns_where_its_files_come_from(db):
    from marketplaces.models import Marketplace
    from marketplaces.services import account_marketplaces_learn

    jp, gb, de = (Marketplace.objects.get(code=c) for c in ("JP", "GB", "DE"))
    account = account_for_import(marketplace=jp)
    assert account.region == "FE"
    assert [m.code for m in account.marketplaces.all()] == ["JP"]
    assert account_marketplaces_learn(account=account, marketplaces=[jp]) == []
    assert account_marketplaces_learn(account=account, marketplaces=[gb, de, gb]) == [
        "DE", "GB"]
    account.refresh_from_db()
    # it sold in JP already: learning European marketplaces does not move its region
    assert account.region == "FE"
    assert sorted(m.code for m in account.marketplaces.all()) == ["DE", "GB", "JP"]


def test_a_real_account_never_learns_from_a_file(account):
    from marketplaces.models import Marketplace
    from marketplaces.services import account_marketplaces_learn

    gb = Marketplace.objects.get(code="GB")
    assert account_marketplaces_learn(account=account, marketplaces=[gb]) == []
    with pytest.raises(AccountChoiceError, match="does not sell in GB"):
        account_for_import(marketplace=gb)
    assert sorted(m.code for m in account.marketplaces.all()) == ["CA", "US"]
    assert account_for_import(marketplace=Marketplace.objects.get(code="US")) == account


def test_a_fresh_imported_files_account_takes_the_region_of_what_it_learns(db):
    from marketplaces.models import Marketplace
    from marketplaces.services import account_marketplaces_learn

    account = account_for_import()
    assert account.region == "NA"
    account_marketplaces_learn(account=account,
                               marketplaces=[Marketplace.objects.get(code="DE")])
    assert account.region == "EU"
    account.refresh_from_db()
    assert account.region == "EU"
