"""Metadata app."""

from django.apps import AppConfig


class MetadataConfig(AppConfig):
    name = "leadsea.metadata"
    label = "metadata"
