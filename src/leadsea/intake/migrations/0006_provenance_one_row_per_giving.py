"""FieldProvenance: one row per giving (record, edit, baseline) with its fields as one JSON object, instead
of one row per field. Existing rows are folded by their giving: lead, source, record, actor, trust, time
and verification; of two rows of one field in a giving the later wins, as it did in survivorship."""

from django.db import migrations, models

_GROUP = "tenant_id, lead_id, source_id, record_id, trust, at, verified_by_bd, actor_id"


def fold_statements(vendor: str, table: str = "intake_fieldprovenance") -> list[str]:
    """The SQL that folds the per-field rows of `table` (field and value set, given still empty) into one
    row per giving, in the order of their first rows, and deletes them."""
    if vendor == "postgresql":
        select = f"""
            SELECT {_GROUP}, jsonb_object_agg(field, value ORDER BY id), '', NULL
            FROM {table} WHERE field <> '' GROUP BY {_GROUP} ORDER BY min(id)"""
    else:  # SQLite: grouped in id order, a field given twice is written twice and read back as the last
        select = f"""
            SELECT {_GROUP}, json_group_object(field, json(value)), '', NULL
            FROM (SELECT * FROM {table} WHERE field <> '' ORDER BY id) AS f GROUP BY {_GROUP} ORDER BY min(id)"""
    return [
        f"INSERT INTO {table} ({_GROUP}, given, field, value) {select}",
        f"DELETE FROM {table} WHERE field <> ''",
    ]


def fold(apps, schema_editor):
    from leadsea.core.tenancy_guard import unscoped

    with unscoped():  # a data migration covers every tenant
        for sql in fold_statements(schema_editor.connection.vendor):
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("intake", "0005_provenance_fewer_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="fieldprovenance",
            name="given",
            field=models.JSONField(default=dict),
        ),
        migrations.RunPython(fold),  # not undone: the per-field rows are not kept
        migrations.RemoveField(model_name="fieldprovenance", name="field"),
        migrations.RemoveField(model_name="fieldprovenance", name="value"),
    ]
