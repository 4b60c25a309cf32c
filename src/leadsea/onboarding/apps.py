"""Onboarding: business templates, the onboarding wizard, per-tenant modules and lead-page sections."""

from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "leadsea.onboarding"
    label = "onboarding"
