from django.apps import AppConfig


class TaggingConfig(AppConfig):
    name = "leadsea.tagging"
    verbose_name = "Tagging"
