from django.db import migrations


def load(apps, schema_editor):
    from marketplaces.reference import rows

    Marketplace = apps.get_model("marketplaces", "Marketplace")
    for row in rows():
        Marketplace.objects.update_or_create(id=row["id"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("marketplaces", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
