from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class AmazonsyncConfig(AppConfig):
    name = "amazonsync"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        # Each app registers its flows (and exception retry handlers) in <app>/flows.py.
        autodiscover_modules("flows")
