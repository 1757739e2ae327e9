from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from .views import health_dashboard

admin.site.index_title = "Home"
# A refusal in the admin's look, naming the permission and the group that has it.
handler403 = "amazonsync.permissions.permission_denied"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/health/", admin.site.admin_view(health_dashboard), name="health"),
    path("admin/", admin.site.urls),
]
