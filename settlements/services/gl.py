"""GL accounts and mapping rules: which account a settlement line books to, and the codes
approved books pin."""

from __future__ import annotations

from django.db import transaction

from marketplaces.models import Marketplace

from ..models import GLAccount
from ..selectors import GLMapper, gl_account_pinned_by
from .base import SettlementError


def glmapping_resolve(
    *, transaction_type: str, amount_type: str, amount_description: str,
    marketplace: Marketplace | None = None,
) -> GLAccount | None:
    rule = GLMapper().rule_for(
        transaction_type, amount_type, amount_description,
        marketplace.pk if marketplace else None,
    )
    return GLAccount.objects.get(pk=rule.gl_account_id) if rule else None


def gl_account_save(*, account: GLAccount, user=None) -> GLAccount:
    """Create or change a GL account. The code of an account used by an approved or
    exported batch is pinned: approved books re-export exactly as they were approved
    (on PostgreSQL a trigger holds this for any writer)."""
    with transaction.atomic():
        if account.pk is not None:
            stored = GLAccount.objects.select_for_update().filter(pk=account.pk).first()
            if stored is not None and stored.code != account.code:
                reference = gl_account_pinned_by(stored)
                if reference:
                    raise SettlementError(
                        f"GL account {stored.code} is used by approved journal batch "
                        f"{reference}: its code cannot change, or re-exporting the batch "
                        f"would not give what was approved. Create a new account with code "
                        f"{account.code} and map the transaction types to it instead."
                    )
        account.save()
        return account
