"""Pool pages."""

from django.urls import path

from leadsea.pools import views

app_name = "pools"
urlpatterns = [
    path("sea/public/", views.public_sea, name="public"),
    path("sea/mine/", views.my_sea, name="mine"),
    path("sea/team/", views.team_sea, name="team"),
    path("sea/assign/", views.bulk_assign, name="bulk_assign"),
    path("sea/leads/<int:lead_id>/<slug:action>/", views.lead_action, name="action"),
    path("pools/<int:pool_id>/policy/", views.pool_policy, name="policy"),
]
