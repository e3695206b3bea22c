from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "webapp.maintenance"
    label = "maintenance"
    verbose_name = "Maintenance"
    default_auto_field = "django.db.models.BigAutoField"
