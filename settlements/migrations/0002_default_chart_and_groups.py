from django.db import migrations


def seed_chart(apps, schema_editor):
    from settlements.chart import seed

    seed(apps.get_model("settlements", "GLAccount"), apps.get_model("settlements", "GLMapping"))


def groups(apps, schema_editor):
    from amazonsync.permissions import ensure_groups

    ensure_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("settlements", "0001_initial"),
        ("amazonsync", "0002_groups"),
    ]
    operations = [
        migrations.RunPython(seed_chart, migrations.RunPython.noop),
        migrations.RunPython(groups, migrations.RunPython.noop),
    ]
