from django.db import migrations


def groups(apps, schema_editor):
    from amazonsync.permissions import ensure_groups

    ensure_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("amazonsync", "0001_initial"),
        ("marketplaces", "0002_marketplace_reference"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(groups, migrations.RunPython.noop)]
