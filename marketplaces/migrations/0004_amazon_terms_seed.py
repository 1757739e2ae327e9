"""The Amazon terms reference table, seeded: return reasons, dispositions, settlement
transaction and amount types, fee types and exception reasons, each with a label and a
plain-language description (``marketplaces.terms_data``). Only missing rows are added, so
running it on a table people edited keeps their wording; unapplying it removes the seeded
codes and keeps the ones people added."""

from django.db import migrations


def seed(apps, schema_editor):
    from marketplaces.terms_data import seed_terms

    seed_terms(apps.get_model("marketplaces", "AmazonTerm"))


def unseed(apps, schema_editor):
    from marketplaces.terms_data import unseed_terms

    unseed_terms(apps.get_model("marketplaces", "AmazonTerm"))


class Migration(migrations.Migration):
    dependencies = [("marketplaces", "0003_amazon_terms")]
    operations = [migrations.RunPython(seed, unseed)]
