"""Tag rule pages (admins and HQ)."""

from django.urls import URLPattern, path

import leadsea.tagging.views as views

app_name = "tagging"
urlpatterns: list[URLPattern] = [
    path("tags/rules/", views.rules_page, name="rules"),
    path("tags/rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("tags/rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("tags/lists/<int:list_id>/", views.brand_list_edit, name="brand_list"),
]
