from django.db import migrations


def groups(apps, schema_editor):
    from amazonsync.permissions import ensure_groups

    ensure_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("returns", "0002_default_rules"), ("amazonsync", "0002_groups")]
    operations = [migrations.RunPython(groups, migrations.RunPython.noop)]
