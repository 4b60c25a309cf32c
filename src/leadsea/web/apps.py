"""Web app."""

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "leadsea.web"
    label = "web"
