"""Catalog admin for non-technical ops: listings (the ASIN/SKU mappings), items and kits,
stock pools, FBA inbound shipments and the feeds we pushed. Thin: forms and actions call
services; history is on Item and Listing. Marketplaces are shown by name, states as
coloured badges, money with its currency."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Sum
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.decorators import display

from amazonsync.admin import register_object_link
from amazonsync.adminkit import (
    HistoryAdmin,
    ModelAdmin,
    ReadOnlyAdmin,
    StackedInline,
    TabularInline,
    money_display,
)
from marketplaces.reference import marketplace_label

from . import selectors, services
from .admin_import import CatalogImportExportMixin
from .forms import MapListingsForm
from .models import (
    FbaStock,
    FeedStatus,
    InboundShipment,
    InboundShipmentItem,
    InboundStatus,
    Item,
    KitComponent,
    Listing,
    MerchantStock,
    PushFeed,
)
from .resources import ItemResource, ListingResource
from .services.mappings import listing_save

# badge colours (unfold label types) per state
CHANNEL_BADGES = {"FBA": "info", "MFN": "primary"}
INBOUND_BADGES = {
    InboundStatus.WORKING: "", InboundStatus.READY_TO_SHIP: "info",
    InboundStatus.SHIPPED: "info", InboundStatus.IN_TRANSIT: "info",
    InboundStatus.DELIVERED: "info", InboundStatus.CHECKED_IN: "info",
    InboundStatus.RECEIVING: "warning", InboundStatus.CLOSED: "success",
    InboundStatus.CANCELLED: "", InboundStatus.DELETED: "", InboundStatus.ERROR: "danger",
}
FEED_BADGES = {
    FeedStatus.SUBMITTING: "info", FeedStatus.IN_QUEUE: "info",
    FeedStatus.IN_PROGRESS: "info", FeedStatus.DONE: "success",
    FeedStatus.CANCELLED: "danger", FeedStatus.FATAL: "danger",
}


def _money(amount, currency):
    """A money cell that never wraps between the amount and its currency code."""
    return format_html('<span class="as-money">{}</span>', money_display(amount, currency))


def _choice_label(choices, value: str) -> str:
    """A stored code's label (an unknown code as it is)."""
    try:
        return choices(value).label
    except ValueError:
        return value or "—"


class MappedFilter(admin.SimpleListFilter):
    title = "mapping"
    parameter_name = "mapped"

    def lookups(self, request, model_admin):
        return (("yes", "Mapped to an item"), ("no", "Unmapped"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(item__isnull=False)
        if self.value() == "no":
            return queryset.filter(item__isnull=True)
        return queryset


@admin.register(Listing)
class ListingAdmin(CatalogImportExportMixin, HistoryAdmin):
    resource_classes = [ListingResource]
    list_display = ("seller_sku", "marketplace_name", "channel_badge", "asin", "item_link",
                    "price_shown", "push_enabled", "last_pushed_quantity", "fba_fulfillable")
    list_select_related = ("item", "fba_stock")
    list_filter = (MappedFilter, "marketplace", "channel", "push_enabled", "account")
    search_fields = ("seller_sku", "asin", "item__sku", "item__name")
    search_help_text = "Seller SKU, ASIN, internal SKU or product name"
    autocomplete_fields = ("item",)
    list_per_page = 100
    actions = ["map_to_item", "enable_push", "disable_push"]
    readonly_fields = ("target_quantity_now", "last_pushed_quantity", "last_pushed_quantity_at",
                       "last_price_shown", "last_pushed_price_at", "discovered_from",
                       "created_at", "updated_at")
    fieldsets = (
        ("Mapping", {"fields": ("item", "seller_sku", "marketplace", "account"),
                     "description": "Map the seller SKU to one of our items: its orders and "
                                    "stock follow the item."}),
        ("Amazon", {"classes": ["tab"],
                    "fields": ("channel", "asin", "fnsku", "parent_asin", "condition",
                               "product_type")}),
        ("Price and stock push", {"classes": ["tab"],
                                  "fields": ("price", "currency", "push_enabled",
                                             "buffer_quantity", "max_quantity",
                                             "target_quantity_now")}),
        ("Last sent to Amazon", {"classes": ["tab"],
                                 "fields": ("last_pushed_quantity", "last_pushed_quantity_at",
                                            "last_price_shown", "last_pushed_price_at")}),
        ("Record", {"classes": ["tab"],
                    "fields": ("discovered_from", "created_at", "updated_at")}),
    )

    @admin.display(description="marketplace", ordering="marketplace__code")
    def marketplace_name(self, obj):
        return marketplace_label(obj.marketplace_id)

    @display(description="fulfilment", ordering="channel", label=CHANNEL_BADGES)
    def channel_badge(self, obj):
        return obj.channel, obj.channel

    @admin.display(description="mapped to item", ordering="item__sku")
    def item_link(self, obj):
        if obj.item is None:
            return format_html('<span class="as-badge as-badge-red">{}</span>', "Unmapped")
        url = reverse("admin:catalog_item_change", args=[obj.item_id])
        return format_html('<a href="{}">{}</a>', url, obj.item.sku)

    @admin.display(description="price", ordering="price")
    def price_shown(self, obj):
        return _money(obj.price, obj.currency)

    @admin.display(description="price last sent")
    def last_price_shown(self, obj):
        return money_display(obj.last_pushed_price, obj.currency)

    @admin.display(description="FBA sellable")
    def fba_fulfillable(self, obj):
        stock = getattr(obj, "fba_stock", None) if obj.channel == "FBA" else None
        return stock.fulfillable if stock is not None else "—"

    @admin.display(description="quantity Amazon should show now")
    def target_quantity_now(self, obj):
        if obj.pk is None or obj.item_id is None:
            return "— (unmapped)"
        if obj.channel != "MFN":
            return "— (FBA: Amazon's fulfilment centres hold the stock)"
        available = selectors.item_available(item=obj.item)
        return selectors.target_quantity(available=available, buffer=obj.buffer_quantity,
                                         maximum=obj.max_quantity)

    def save_model(self, request, obj, form, change):
        listing_save(listing=obj, user=request.user)

    @admin.action(description="Map selected listings to an item…",
                  permissions=["change"])
    def map_to_item(self, request, queryset):
        form = MapListingsForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            count = services.listings_map(listing_ids=list(queryset.values_list("pk", flat=True)),
                                          item=form.item)
            self.message_user(request, f"{count} listing(s) mapped to {form.item.sku}.")
            return None
        context = {**self.admin_site.each_context(request), "title": "Map listings to an item",
                   "form": form, "queryset": queryset.select_related("item"),
                   "opts": self.model._meta, "action": "map_to_item"}
        return TemplateResponse(request, "admin/catalog/map_listings.html", context)

    @admin.action(description="Enable push for selected listings", permissions=["change"])
    def enable_push(self, request, queryset):
        count = services.listings_set_push(listing_ids=list(queryset.values_list("pk", flat=True)),
                                           enabled=True)
        self.message_user(request, f"Push enabled on {count} listing(s).")

    @admin.action(description="Disable push for selected listings", permissions=["change"])
    def disable_push(self, request, queryset):
        count = services.listings_set_push(listing_ids=list(queryset.values_list("pk", flat=True)),
                                           enabled=False)
        self.message_user(request, f"Push disabled on {count} listing(s).")


class KitComponentInline(TabularInline):
    model = KitComponent
    fk_name = "kit"
    extra = 0
    autocomplete_fields = ("component",)
    verbose_name = "kit component"
    verbose_name_plural = "kit components (this item is a kit of…)"


class MerchantStockInline(StackedInline):
    model = MerchantStock
    extra = 0
    max_num = 1
    fields = ("on_hand", "reserved")


@admin.register(Item)
class ItemAdmin(CatalogImportExportMixin, HistoryAdmin):
    resource_classes = [ItemResource]
    inlines = [KitComponentInline, MerchantStockInline]
    list_display = ("sku", "name", "kit", "active", "on_hand", "reserved", "unit_cost_shown")
    list_select_related = ("merchant_stock",)
    list_filter = ("active",)
    search_fields = ("sku", "name", "barcode")
    search_help_text = "Internal SKU, product name or barcode"
    readonly_fields = ("available_now", "created_at", "updated_at")
    fields = ("sku", "name", "barcode", "unit_cost", "cost_currency", "active",
              "available_now", "created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(component_count=Count("components"))

    @display(description="kind", label={"Kit": "info", "Single item": ""})
    def kit(self, obj):
        return "Kit" if getattr(obj, "component_count", 0) else "Single item"

    @admin.display(description="on hand")
    def on_hand(self, obj):
        stock = getattr(obj, "merchant_stock", None)
        return stock.on_hand if stock is not None else 0

    @admin.display(description="reserved")
    def reserved(self, obj):
        stock = getattr(obj, "merchant_stock", None)
        return stock.reserved if stock is not None else 0

    @admin.display(description="unit cost", ordering="unit_cost")
    def unit_cost_shown(self, obj):
        return _money(obj.unit_cost, obj.cost_currency)

    @admin.display(description="available now (kits: from components)")
    def available_now(self, obj):
        return selectors.item_available(item=obj) if obj.pk else "—"


@admin.register(MerchantStock)
class MerchantStockAdmin(ModelAdmin):
    list_display = ("item", "on_hand", "reserved", "available", "updated_at")
    list_select_related = ("item",)
    search_fields = ("item__sku", "item__name")
    search_help_text = "Internal SKU or product name"
    autocomplete_fields = ("item",)

    @admin.display(description="available")
    def available(self, obj):
        return obj.available


@admin.register(FbaStock)
class FbaStockAdmin(ReadOnlyAdmin):
    list_display = ("seller_sku", "marketplace_name", "fulfillable", "inbound", "reserved",
                    "unfulfillable", "pulled_at")
    list_select_related = ("listing",)
    list_filter = ("listing__marketplace",)
    search_fields = ("listing__seller_sku", "listing__asin", "listing__fnsku")
    search_help_text = "Seller SKU, ASIN or FNSKU"

    @admin.display(description="seller SKU", ordering="listing__seller_sku")
    def seller_sku(self, obj):
        return obj.listing.seller_sku

    @admin.display(description="marketplace", ordering="listing__marketplace__code")
    def marketplace_name(self, obj):
        return marketplace_label(obj.listing.marketplace_id)


class InboundShipmentItemInline(TabularInline):
    model = InboundShipmentItem
    extra = 0
    fields = ("seller_sku", "fnsku", "quantity_shipped", "quantity_received", "difference")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="received − shipped")
    def difference(self, obj):
        return _difference_badge(obj.discrepancy)


def _difference_badge(gap: int):
    if not gap:
        return format_html('<span class="as-badge as-badge-green">{}</span>', "none")
    return format_html('<span class="as-badge as-badge-red">{}</span>', f"{gap:+d}")


class DiscrepancyFilter(admin.SimpleListFilter):
    title = "received vs shipped"
    parameter_name = "discrepancy"

    def lookups(self, request, model_admin):
        return (("yes", "Closed with a difference"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(selectors.inbound_discrepancy_q())
        return queryset


@admin.register(InboundShipment)
class InboundShipmentAdmin(ReadOnlyAdmin):
    inlines = [InboundShipmentItemInline]
    list_display = ("shipment_id", "name", "marketplace_name", "status_badge", "destination_fc",
                    "shipped", "received", "difference", "closed_at")
    list_filter = ("status", DiscrepancyFilter, "marketplace")
    search_fields = ("shipment_id", "name", "items__seller_sku")
    search_help_text = "Shipment ID, name or seller SKU"
    exclude = ("raw",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            total_shipped=Sum("items__quantity_shipped"),
            total_received=Sum("items__quantity_received"),
        )

    @admin.display(description="marketplace", ordering="marketplace__code")
    def marketplace_name(self, obj):
        return marketplace_label(obj.marketplace_id) if obj.marketplace_id else "—"

    @display(description="status", ordering="status", label=INBOUND_BADGES)
    def status_badge(self, obj):
        return obj.status, _choice_label(InboundStatus, obj.status)

    @admin.display(description="shipped", ordering="total_shipped")
    def shipped(self, obj):
        return obj.total_shipped or 0

    @admin.display(description="received", ordering="total_received")
    def received(self, obj):
        return obj.total_received or 0

    @admin.display(description="received − shipped")
    def difference(self, obj):
        if obj.status != InboundStatus.CLOSED:
            return "—"
        return _difference_badge((obj.total_received or 0) - (obj.total_shipped or 0))


class PushOutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return (("failing", "Failed or with refused listings"),
                ("failing_recent", "Failed or refused, last 7 days"))

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(selectors.push_failing_q())
        if self.value() == "failing_recent":
            since = timezone.now() - selectors.RECENT_PUSHES
            return queryset.filter(selectors.push_failing_q(), submitted_at__gte=since)
        return queryset


@admin.register(PushFeed)
class PushFeedAdmin(ReadOnlyAdmin):
    list_display = ("submitted_at", "kind", "marketplace_name", "status_badge", "messages",
                    "accepted", "rejected_shown", "finished_at")
    list_filter = (PushOutcomeFilter, "kind", "status", "marketplace")
    search_fields = ("feed_id",)
    search_help_text = "Amazon feed ID"
    date_hierarchy = "submitted_at"

    @admin.display(description="marketplace", ordering="marketplace__code")
    def marketplace_name(self, obj):
        return marketplace_label(obj.marketplace_id)

    @display(description="status", ordering="status", label=FEED_BADGES)
    def status_badge(self, obj):
        return obj.status, _choice_label(FeedStatus, obj.status)

    @admin.display(description="refused", ordering="rejected")
    def rejected_shown(self, obj):
        if not obj.rejected:
            return 0
        return format_html('<span class="as-badge as-badge-red">{}</span>', obj.rejected)


@register_object_link("listing")
def _listing_link(exc):
    listing_id = (exc.payload or {}).get("listing_id")
    if not listing_id:
        return None
    return reverse("admin:catalog_listing_change", args=[listing_id])
