# PostgreSQL only: a trigram index for the `q` search (`search_text LIKE '%...%'`), which otherwise reads
# every lead of the tenant (about 200 ms at 1M leads; 2-30 ms with the index, Chinese included). It is not
# part of the model state: SQLite has no such index and reads the rows, as before.

import logging

from django.db import DatabaseError, migrations, transaction

log = logging.getLogger(__name__)


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError:
            # pg_trgm ships with PostgreSQL and is a trusted extension (13+), but a role may still lack the
            # right to create it: the search then scans, as on SQLite (docs/operations.md has the two
            # statements to run as a superuser later).
            log.warning("pg_trgm could not be created: the lead q search will scan (docs/operations.md)")
            return
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS lead_search_trgm_idx "
            "ON leads_lead USING gin (search_text gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS lead_search_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("leads", "0009_merged_into_index")]

    operations = [migrations.RunPython(create, drop)]
