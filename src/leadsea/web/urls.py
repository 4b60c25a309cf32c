"""Workbench URLs."""

from django.urls import path

from leadsea.visits.views import visit_photo
from leadsea.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("tenants/", views.tenant_switch, name="tenant_switch"),
    path("leads/", views.lead_list, name="lead_list"),
    path("leads/new/", views.lead_create_view, name="lead_create"),
    path("leads/<int:lead_id>/", views.lead_detail, name="lead_detail"),
    path("leads/<int:lead_id>/edit/", views.lead_edit_view, name="lead_edit"),
    path("leads/<int:lead_id>/stage/", views.lead_stage, name="lead_stage"),
    path("visits/<int:visit_id>/photo/", visit_photo, name="visit_photo"),
]
