"""Intake app: lead intake, POI matching and the `leadsea dedup` batch command."""

from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "leadsea.intake"
    label = "intake"
