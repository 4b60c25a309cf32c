"""Tenancy app: tenants, the org tree, memberships with roles, API tokens."""

from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "leadsea.tenancy"
    label = "tenancy"
