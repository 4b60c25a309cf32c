"""Web pages of this app (filled in as the pages land)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
