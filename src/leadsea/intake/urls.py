"""Web pages of this app (filled in as the pages land)."""

from django.urls import URLPattern, path

from leadsea.intake import join_views, review_views, views

app_name = "intake"
urlpatterns: list[URLPattern] = [
    # review queue, join form, crowdsourcing (channels engineer)
    path("intake/review/", review_views.queue, name="review"),
    path("intake/review/decide/", review_views.decide, name="review_decide"),
    path("join/<slug:tenant_slug>/", join_views.join, name="join"),
    path("join/<slug:tenant_slug>/thanks/", join_views.join_thanks, name="join_thanks"),
    path("join/<slug:tenant_slug>/status/<str:code>/", join_views.join_status, name="join_status"),
    path("crowd/", join_views.crowd_submit, name="crowd"),
    # file import with a progress bar (intake core)
    path("intake/import/", views.import_page, name="import"),
    path("intake/import/<int:job_id>/", views.import_job, name="import_job"),
    path("intake/import/<int:job_id>/progress/", views.import_progress, name="import_progress"),
]
