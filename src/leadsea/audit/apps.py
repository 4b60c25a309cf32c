"""Audit app."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "leadsea.audit"
    label = "audit"
