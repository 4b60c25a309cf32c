"""URL map: health check, REST API, web workbench, Django admin, i18n."""

from django.contrib import admin
from django.urls import include, path

from leadsea.api import api
from leadsea.web.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("m/", include("leadsea.mobile.urls")),
    path("", include("leadsea.mobile.desktop_urls")),
    path("", include("leadsea.pools.urls")),
    path("", include("leadsea.intake.urls")),
    path("", include("leadsea.tagging.urls")),
    path("", include("leadsea.metadata.urls")),
    path("", include("leadsea.events.urls")),
    path("", include("leadsea.onboarding.urls")),
    path("", include("leadsea.web.urls")),
]
