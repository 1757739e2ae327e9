from django.apps import AppConfig


class MarketplacesConfig(AppConfig):
    name = "marketplaces"
    verbose_name = "Marketplaces and seller accounts"

    def ready(self) -> None:
        # The sync engine (below this app) reaches seller accounts through this directory.
        from amazonsync.accounts import register_accounts

        from .directory import SellerAccountDirectory

        register_accounts(SellerAccountDirectory())
