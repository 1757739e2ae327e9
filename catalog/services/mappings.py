"""A listing saved by hand (the admin's change and add forms), and the mapping rule with it.

The rule: a save that gives a listing an item it did not have (a new listing with an item,
or an unmapped listing mapped) applies the mapping once the save is committed: the
listing's unmapped-SKU exception is resolved and what waited on the mapping is retried
(``mapping_applied``). Re-mapping a mapped listing to another item, or unmapping it,
applies nothing.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from ..models import Listing
from .listings import mapping_applied


def listing_save(*, listing: Listing, user=None) -> Listing:
    """Save ``listing`` as edited (history row by ``user``); apply a new mapping on commit."""
    with transaction.atomic():
        stored_item_id = None
        if listing.pk is not None:
            stored_item_id = (Listing.objects.select_for_update().filter(pk=listing.pk)
                              .values_list("item_id", flat=True).first())
        if user is not None:
            listing._history_user = user  # simple_history: who made this version
        listing.save()
        if listing.item_id is not None and stored_item_id is None:
            who = {"actor": user} if user is not None else {}  # shown on the exception
            transaction.on_commit(partial(mapping_applied, listing=listing, **who))
    return listing
