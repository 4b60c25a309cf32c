"""Mobile app: phone-first pages for BDs in the field (nearby, map, merchant 360, check-in, to-do)."""

from django.apps import AppConfig


class MobileConfig(AppConfig):
    name = "leadsea.mobile"
    label = "mobile"
