"""The Django application of the portal."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    label = "portal"
    verbose_name = "ETDZ submission portal"
    default_auto_field = "django.db.models.BigAutoField"
