"""Pages of custom objects (records list, detail, form), the meta admin page, and uploaded files."""

from django.urls import path

from leadsea.metadata import views

app_name = "metadata"
urlpatterns = [
    path("objects/", views.object_index, name="objects"),
    path("objects/related/<slug:target>/<int:record_id>/", views.related, name="related"),
    path("objects/<slug:object_key>/", views.record_list, name="record_list"),
    path("objects/<slug:object_key>/new/", views.record_create_view, name="record_create"),
    path("objects/<slug:object_key>/<int:record_id>/", views.record_detail, name="record_detail"),
    path("objects/<slug:object_key>/<int:record_id>/edit/", views.record_edit_view, name="record_edit"),
    path("objects/<slug:object_key>/<int:record_id>/delete/", views.record_delete_view, name="record_delete"),
    path("meta/", views.meta_admin, name="meta"),
    path("meta/<slug:object_key>/fields/new/", views.field_create_view, name="field_create"),
    path("meta/<slug:object_key>/fields/<slug:field_key>/edit/", views.field_edit_view, name="field_edit"),
    path("files/<int:file_id>/", views.stored_file, name="file"),
]
