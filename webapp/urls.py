from django.contrib import admin
from django.urls import include, path

from webapp.health import healthz

admin.site.site_header = "tiltbob administration"
admin.site.site_title = "tiltbob"
admin.site.index_title = "Maintenance and notifications"
# The lists (endpoints with their health) need the width more than a second menu does.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("webapp.maintenance.urls")),
]
