from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Amazon back office"
admin.site.site_title = "Amazon back office"
admin.site.index_title = "Seller operations"

from .views import health_dashboard  # noqa: E402

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/health/", admin.site.admin_view(health_dashboard), name="health"),
    path("admin/", admin.site.urls),
]
