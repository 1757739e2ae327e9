from django.db import migrations


def groups(apps, schema_editor):
    from amazonsync.permissions import ensure_groups

    ensure_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial"), ("amazonsync", "0002_groups")]
    operations = [migrations.RunPython(groups, migrations.RunPython.noop)]
