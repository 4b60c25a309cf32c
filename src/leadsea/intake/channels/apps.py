from django.apps import AppConfig


class IntakeChannelsConfig(AppConfig):
    name = "leadsea.intake.channels"
    label = "intake_channels"
    verbose_name = "Intake channels"
