"""Reads on tenants, memberships and the org tree."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from leadsea.core.tenancy_guard import unscoped
from leadsea.tenancy.models import Membership, OrgUnit, Tenant


def tenant_by_slug(slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug, is_active=True).first()


def membership_get(*, tenant: Tenant, user: Any) -> Membership | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(tenant=tenant, user=user, is_active=True)
        .select_related("org_unit", "user", "tenant")
        .first()
    )


def memberships_of_user(user: Any) -> list[Membership]:
    """The tenants a person belongs to: cross-tenant by nature (the tenant switch lists them)."""
    with unscoped():
        return list(
            Membership.objects.filter(user=user, is_active=True, tenant__is_active=True)
            .select_related("tenant")
            .order_by("tenant__name")
        )


def org_units(*, tenant: Tenant) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(tenant=tenant).order_by("path")


def subtree_user_ids(*, tenant: Tenant, org_unit: OrgUnit | None) -> QuerySet[Membership, Any]:
    """User ids of the members of an org unit and every unit below it (a subquery, not a list)."""
    qs = Membership.objects.filter(tenant=tenant, is_active=True)
    if org_unit is None:
        return qs.none().values("user_id")
    return qs.filter(org_unit__tenant=tenant, org_unit__path__startswith=org_unit.path).values("user_id")


def members(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant, is_active=True).select_related("user", "org_unit")


def member_in_scope(*, tenant: Tenant, actor: Membership, user_id: int) -> Membership | None:
    """The membership of `user_id` if `actor` may act on it: self, their subtree, or anyone for hq/admin."""
    target = members(tenant=tenant).filter(user_id=user_id).first()
    if target is None:
        return None
    if actor.sees_whole_tenant or target.user_id == actor.user_id:
        return target
    unit = actor.org_unit
    supervises = actor.role in (Membership.Role.MANAGER, Membership.Role.OPS) and unit is not None
    if supervises and unit and target.org_unit is not None and target.org_unit.path.startswith(unit.path):
        return target
    return None
