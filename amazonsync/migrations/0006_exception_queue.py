"""The exception queue people can work: words on every field, the "resolved because" of an
automatic resolution, and the problem group (``group_key``) that shows one row per problem,
filled for the rows already stored."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from amazonsync.problems import group_key


def fill_group_keys(apps, schema_editor):
    SyncException = apps.get_model("amazonsync", "SyncException")
    rows = (SyncException.objects.filter(group_key="")
            .select_related("account", "marketplace").order_by("pk"))
    batch = []
    for exc in rows.iterator(chunk_size=2000):
        market = exc.marketplace
        exc.group_key = group_key(
            flow=exc.flow, object_kind=exc.object_kind, object_key=exc.object_key,
            reason_code=exc.reason_code,
            account_key=exc.account.selling_partner_id if exc.account else "",
            marketplace_keys=(market.code, market.pk) if market else (),
        )
        batch.append(exc)
        if len(batch) >= 2000:
            SyncException.objects.bulk_update(batch, ["group_key"])
            batch = []
    if batch:
        SyncException.objects.bulk_update(batch, ["group_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("amazonsync", "0005_syncrun_host_pid"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='syncexception',
            options={'ordering': ['-last_seen', '-id'], 'verbose_name': 'sync exception', 'verbose_name_plural': 'sync exceptions'},
        ),
        migrations.AddField(
            model_name='syncexception',
            name='group_key',
            field=models.CharField(blank=True, default='', help_text='The same problem with the same object in other marketplaces or accounts shares this key.', max_length=255, verbose_name='problem group'),
        ),
        migrations.AddField(
            model_name='syncexception',
            name='resolved_cause',
            field=models.CharField(blank=True, help_text='What resolved it automatically, e.g. "mapping saved"; empty when a person resolved it by hand.', max_length=120, verbose_name='resolved because'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='account',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='sync_exceptions', to='marketplaces.selleraccount', verbose_name='seller account'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='assignee',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='assigned_exceptions', to=settings.AUTH_USER_MODEL, verbose_name='assigned to'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='attempts',
            field=models.PositiveIntegerField(default=0, verbose_name='retries'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='depends_on',
            field=models.ForeignKey(blank=True, help_text='Retried automatically when this one is resolved.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='dependents', to='amazonsync.syncexception', verbose_name='waits on'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='due_at',
            field=models.DateTimeField(blank=True, help_text="First seen plus the severity's SLA.", null=True, verbose_name='due by'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='first_seen',
            field=models.DateTimeField(verbose_name='first seen'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='flow',
            field=models.CharField(db_index=True, help_text='The sync flow that met the problem.', max_length=64, verbose_name='flow'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='last_run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='exceptions', to='amazonsync.syncrun', verbose_name='last sync run'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='last_seen',
            field=models.DateTimeField(db_index=True, verbose_name='last seen'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='manual_fix',
            field=models.BooleanField(default=False, help_text='Resolved by a person rather than by a retry or a flow.', verbose_name='closed by hand'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='marketplace',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='marketplaces.marketplace', verbose_name='marketplace'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='message',
            field=models.TextField(help_text='What happened, in full.', verbose_name='message'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='object_key',
            field=models.CharField(help_text='Which one: the SKU, order id or report it is about.', max_length=255, verbose_name='object'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='object_kind',
            field=models.CharField(help_text='What the problem is about: listing, order, settlement, seller account…', max_length=64, verbose_name='kind of object'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='occurrences',
            field=models.PositiveIntegerField(default=1, help_text='How many times the problem was met.', verbose_name='times seen'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='owner_team',
            field=models.CharField(choices=[('ops', 'Ops'), ('merch', 'Merchandising'), ('finance', 'Finance')], db_index=True, help_text='The team that fixes it.', max_length=16, verbose_name='owner team'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='payload',
            field=models.JSONField(blank=True, default=dict, help_text='The raw data that could not be applied.', verbose_name='data received'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='reason_code',
            field=models.CharField(db_index=True, help_text='Why it could not be applied.', max_length=64, verbose_name='problem'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='resolution_note',
            field=models.TextField(blank=True, verbose_name='note'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='resolved_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='closed at'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='resolved_by',
            field=models.ForeignKey(blank=True, help_text='Who resolved or ignored it, or whose action resolved it automatically.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='closed by'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='severity',
            field=models.CharField(choices=[('critical', 'Critical'), ('high', 'High'), ('normal', 'Normal'), ('low', 'Low')], db_index=True, default='normal', max_length=8, verbose_name='severity'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='severity_rank',
            field=models.PositiveSmallIntegerField(default=2, help_text='0 = most urgent', verbose_name='urgency rank'),
        ),
        migrations.AlterField(
            model_name='syncexception',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('retrying', 'Retrying'), ('resolved', 'Resolved'), ('ignored', 'Ignored')], db_index=True, default='open', max_length=16, verbose_name='status'),
        ),
        migrations.AddIndex(
            model_name='syncexception',
            index=models.Index(fields=['group_key', 'status', 'id'], name='sync_exc_group'),
        ),
        migrations.RunPython(fill_group_keys, migrations.RunPython.noop),
    ]
