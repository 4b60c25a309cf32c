"""The abstract base of every tenant-owned model and the manager that refuses to run unscoped."""

from __future__ import annotations

from typing import Any

from django.db import models


class TenantModel(models.Model):
    """A row owned by one tenant: non-null tenant, unique (tenant, id); other uniques lead with tenant."""

    # No index of its own: (tenant, id) and every composite index lead with tenant already.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        abstract = True

    def _do_update(
        self, base_qs: Any, using: Any, pk_val: Any, values: Any, update_fields: Any, forced_update: Any
    ) -> Any:
        # save() of an existing row is scoped too: UPDATE ... WHERE id = %s AND tenant_id = %s.
        return super()._do_update(  # type: ignore[misc]
            base_qs.filter(tenant_id=self.tenant_id), using, pk_val, values, update_fields, forced_update
        )

    def check_same_tenant(self, *others: Any) -> None:
        """No foreign key may cross tenants: call before saving a relation."""
        for other in others:
            if other is not None and getattr(other, "tenant_id", self.tenant_id) != self.tenant_id:
                raise ValueError(f"{other!r} belongs to another tenant than {self!r}")


def unchecked_tenant() -> models.ForeignKey[Any, Any]:
    """TenantModel's tenant without the database's check of the reference, for high-volume rows written by
    services from rows of the same transaction (each checked reference costs the server a query per row at
    commit). Django still applies on_delete."""
    return models.ForeignKey(
        "tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )


def tenant_unique(model_name: str) -> models.UniqueConstraint:
    """The (tenant, id) constraint every tenant model carries (keeps the door open to Citus sharding)."""
    return models.UniqueConstraint(fields=["tenant", "id"], name=f"{model_name}_tenant_id_uniq")
