"""Pages of onboarding: the wizard and the modules settings page."""

from django.urls import path

from leadsea.onboarding import views

app_name = "onboarding"
urlpatterns = [
    path("onboarding/", views.wizard, name="wizard"),
    path("settings/modules/", views.modules_settings, name="modules"),
]
