"""Settings pages of the events app: webhooks with their delivery log, and plugins."""

from django.urls import path

from leadsea.events import views

app_name = "events"
urlpatterns = [
    path("settings/webhooks/", views.webhooks, name="webhooks"),
    path("settings/webhooks/<int:webhook_id>/", views.webhook_detail, name="webhook"),
]
