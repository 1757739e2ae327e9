import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("amazonsync", "0006_exception_queue"),
        ("marketplaces", "0003_amazon_terms"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AlertSent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('critical', 'New critical exception'), ('overdue', 'Exception past its SLA'), ('red', 'Health metric turned red')], max_length=16)),
                ('key', models.CharField(help_text='What was alerted: an exception id, or marketplace and metric.', max_length=255)),
                ('team', models.CharField(choices=[('ops', 'Ops'), ('merch', 'Merchandising'), ('finance', 'Finance')], max_length=16)),
                ('sent_at', models.DateTimeField(db_index=True, verbose_name='sent')),
                ('cleared_at', models.DateTimeField(blank=True, help_text='A metric back out of red: the next time it turns red is alerted again.', null=True, verbose_name='cleared')),
            ],
            options={
                'verbose_name': 'alert sent',
                'verbose_name_plural': 'alerts sent',
                'ordering': ['-sent_at', '-id'],
            },
        ),
        migrations.AlterModelOptions(
            name='apicall',
            options={'ordering': ['-id'], 'verbose_name': 'Amazon API call'},
        ),
        migrations.AlterModelOptions(
            name='syncrun',
            options={'ordering': ['-started_at', '-id'], 'permissions': [('run_flow', 'Can run a flow now or backfill it from a date')], 'verbose_name': 'sync run'},
        ),
        migrations.AddField(
            model_name='syncrun',
            name='requested_by',
            field=models.ForeignKey(blank=True, help_text='Who asked for the run in the admin.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='syncrun',
            name='since',
            field=models.DateTimeField(blank=True, help_text='A backfill asked for from the admin: the flow reads again from this date.', null=True, verbose_name='backfill from'),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='account',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='marketplaces.selleraccount', verbose_name='seller account'),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, verbose_name='when'),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='duration_ms',
            field=models.PositiveIntegerField(default=0, verbose_name='duration (ms)'),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='method',
            field=models.CharField(max_length=8, verbose_name='HTTP method'),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='operation',
            field=models.CharField(help_text="Amazon's name of the operation.", max_length=64),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='request_id',
            field=models.CharField(blank=True, max_length=128, verbose_name='Amazon request id'),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='calls', to='amazonsync.syncrun', verbose_name='sync run'),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='status_code',
            field=models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='HTTP status'),
        ),
        migrations.AlterField(
            model_name='apicall',
            name='throttled',
            field=models.BooleanField(default=False, help_text='Amazon answered: too many calls.'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='account',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sync_runs', to='marketplaces.selleraccount', verbose_name='seller account'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='api_calls',
            field=models.PositiveIntegerField(default=0, verbose_name='Amazon API calls'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='created',
            field=models.PositiveIntegerField(default=0, help_text='New records stored.'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='failed',
            field=models.PositiveIntegerField(default=0, help_text='Records that could not be applied (see the exception queue).'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='fetched',
            field=models.PositiveIntegerField(default=0, help_text='Records read from Amazon.'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='finished_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='finished'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='marketplace',
            field=models.ForeignKey(blank=True, help_text='Empty for a flow that runs once for the whole account.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='marketplaces.marketplace'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='started_at',
            field=models.DateTimeField(db_index=True, help_text='When it started (or was queued, while queued).', verbose_name='started'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('skipped', 'Skipped (already running)'), ('refused', 'Refused (account not usable)')], db_index=True, default='running', max_length=16),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='throttled',
            field=models.PositiveIntegerField(default=0, help_text='Calls Amazon answered with a rate limit.', verbose_name='throttled calls'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='trigger',
            field=models.CharField(choices=[('manual', 'By hand (admin)'), ('schedule', 'Schedule'), ('retry', 'Exception retry'), ('command', 'Command line')], default='manual', max_length=16, verbose_name='started by'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='unchanged',
            field=models.PositiveIntegerField(default=0, help_text='Records already up to date.'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='updated',
            field=models.PositiveIntegerField(default=0, help_text='Stored records changed.'),
        ),
        migrations.AddConstraint(
            model_name='alertsent',
            constraint=models.UniqueConstraint(fields=('kind', 'key'), name='uniq_alert_sent'),
        ),
    
    ]
