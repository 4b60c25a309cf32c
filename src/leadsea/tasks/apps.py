"""Tasks app: simple assigned tasks, and the to-do center that gathers what a person must do."""

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "leadsea.tasks"
    label = "tasks"
