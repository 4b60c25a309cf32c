"""Visits app: contacts (KP) of a merchant and on-site check-ins with geofence verification."""

from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "leadsea.visits"
    label = "visits"
