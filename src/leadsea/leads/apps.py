"""Leads app."""

from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leadsea.leads"
    label = "leads"
