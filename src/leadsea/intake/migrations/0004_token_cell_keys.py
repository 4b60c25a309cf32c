"""The blocking keys of name tokens in geo cells changed their layout (pipeline._token_cell_key: the cells of
a column are consecutive integers, read with one range scan): every lead's keys are written again, with its
stored matcher features. At 1M leads this takes some minutes; `leadsea intake_keys --tenant SLUG` does the
same for one tenant."""

from django.db import migrations


def rebuild(apps, schema_editor):  # type: ignore[no-untyped-def]
    # The services of this release, not historical models: the keys are what this release's code computes.
    from leadsea.core.tenancy_guard import unscoped
    from leadsea.intake.services import lead_keys_rebuild
    from leadsea.tenancy.models import Tenant

    with unscoped():
        for tenant in Tenant.objects.order_by("pk"):
            lead_keys_rebuild(tenant=tenant)


class Migration(migrations.Migration):
    atomic = False  # lead_keys_rebuild commits batch by batch

    # The tables the services read are at this release's shape by then.
    dependencies = [
        ("intake", "0003_lead_features_unchecked_references"),
        ("leads", "0010_search_trigram_index"),
        ("tenancy", "0004_membership_role_crowd"),
        ("pools", "0002_fewer_indexes"),
        ("metadata", "0003_objects_records_values"),
    ]

    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop, elidable=True)]
