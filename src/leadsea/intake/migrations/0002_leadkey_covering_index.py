# The candidate lookup reads (tenant, key) -> lead from the index alone. Built before the old one goes.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0001_initial"),
        ("leads", "0009_merged_into_index"),
        ("tenancy", "0004_membership_role_crowd"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="leadkey",
            index=models.Index(fields=["tenant", "key", "lead"], name="leadkey_key_lead_idx"),
        ),
        migrations.RemoveIndex(
            model_name="leadkey",
            name="leadkey_key_idx",
        ),
    ]
