from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("amazonsync", "0005_syncrun_host_pid")]

    operations = []
