"""Mobile app URLs, mounted at /m/."""

from django.urls import path

from leadsea.mobile import views

app_name = "mobile"
urlpatterns = [
    path("", views.nearby_page, name="nearby"),
    path("nearby/", views.nearby_fragment, name="nearby_fragment"),
    path("districts/", views.districts_fragment, name="districts"),
    path("map/", views.map_page, name="map"),
    path("leads/<int:lead_id>/", views.lead_page, name="lead"),
    path("leads/<int:lead_id>/checkin/", views.checkin, name="checkin"),
    path("visits/<int:visit_id>/photo/", views.visit_photo, name="visit_photo"),
    path("todo/", views.todo_page, name="todo"),
    path("tasks/<int:task_id>/done/", views.task_done, name="task_done"),
    path("mine/", views.mine_page, name="mine"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="sw"),
    path("offline/", views.offline, name="offline"),
]
