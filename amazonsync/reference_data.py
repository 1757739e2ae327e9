"""Project level: the reference data every app's data migrations seed, ensured again.

After a test database flush (or any wipe) the rows the data migrations created are gone:
``reference_data_ensure`` puts back the marketplaces, the groups, Amazon's terms, the default
GL chart and the disposition rules, each through its own app's seeder, keeping rows people
edited. Like settings, urls and the demo, this module may import every app (no app imports
it); apps that are not installed are skipped.
"""

from __future__ import annotations

from django.apps import apps

from amazonsync.permissions import ensure_groups
from marketplaces.services import marketplace_reference_ensure


def reference_data_ensure() -> None:
    marketplace_reference_ensure()
    ensure_groups()
    from marketplaces.models import AmazonTerm
    from marketplaces.terms_data import seed_terms

    if not AmazonTerm.objects.exists():
        seed_terms(AmazonTerm)
    if apps.is_installed("settlements"):
        from settlements.chart import seed
        from settlements.models import GLAccount, GLMapping

        if not GLAccount.objects.exists():
            seed(GLAccount, GLMapping)
    if apps.is_installed("returns"):
        from returns.defaults import seed_rules
        from returns.models import DispositionRule

        if not DispositionRule.objects.exists():
            seed_rules(DispositionRule)
