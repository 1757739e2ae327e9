from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("amazonsync", "0006_exception_queue")]

    operations = []
