"""Pipeline app: tenant-configured conversion stages, lost reasons and opportunities."""

from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "leadsea.pipeline"
    label = "pipeline"
