"""Core app: clock, typed errors, the tenant-scoped base model and its query guard."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "leadsea.core"
    label = "core"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.backends.signals import connection_created

        from leadsea.core.tenancy_guard import install_guard

        if settings.TENANT_QUERY_GUARD:
            connection_created.connect(install_guard, dispatch_uid="leadsea-tenant-guard")
