from django.db import migrations


def seed(apps, schema_editor):
    from returns.defaults import seed_rules

    seed_rules(apps.get_model("returns", "DispositionRule"))


class Migration(migrations.Migration):
    dependencies = [("returns", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
