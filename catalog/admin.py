"""Catalog admin for non-technical ops: listings (the ASIN/SKU mappings), items and kits,
stock pools, FBA inbound shipments and the feeds we pushed. Thin: forms and actions call
services; history is on Item and Listing."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connections, router
from django.db.models import Count, Sum
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX

from amazonsync.admin import register_object_link
from amazonsync.adminkit import (
    HistoryAdmin,
    ModelAdmin,
    ReadOnlyAdmin,
    StackedInline,
    TabularInline,
    money_display,
)

from . import selectors, services
from .forms import FileImportForm, MapListingsForm
from .models import (
    FbaStock,
    InboundShipment,
    InboundShipmentItem,
    Item,
    KitComponent,
    Listing,
    MerchantStock,
    PushFeed,
)
from .resources import ItemResource, ListingResource
from .services.mappings import listing_save

PREVIEW_ROWS = 200


class CatalogImportExportMixin(ImportExportMixin):
    """All-or-nothing imports with plain-language errors and a summary preview."""

    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    import_form_class = FileImportForm
    import_template_name = "admin/catalog/import.html"

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None)
        result = context.get("result") if context else None
        if result is not None:
            shown = [row for row in result.valid_rows() if row.import_type in ("new", "update")]
            context["preview_rows"] = shown[:PREVIEW_ROWS]
            context["preview_hidden"] = max(0, len(shown) - PREVIEW_ROWS)
            context["invalid_count"] = len(result.invalid_rows)
        return response

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            context = self.admin_site.each_context(request)
            context.update({
                "title": "Import", "opts": self.model._meta, "result": result,
                "invalid_count": len(result.invalid_rows), "form": None,
            })
            return TemplateResponse(request, [self.import_template_name], context,
                                    status=400)
        return super().process_result(result, request)

    def generate_log_entries(self, result, request):
        """The admin log entry import-export writes for each new or changed row (same
        fields, flags and messages), from the rows' ids and reprs (the resource keeps no
        instance per row) and in one executemany rather than a LogEntry per row through
        the ORM's insert compiler."""
        if self.get_skip_admin_log():
            return
        flags = {"new": ADDITION, "update": CHANGE}
        content_type_id = ContentType.objects.get_for_model(
            self.model, for_concrete_model=False).pk
        db = router.db_for_write(LogEntry)
        connection = connections[db]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        messages_ = {kind: gettext(f"{kind} through import_export") for kind in flags}
        params = [(now, request.user.pk, content_type_id, str(row.object_id),
                   (row.object_repr or "")[:200], flags[row.import_type],
                   messages_[row.import_type])
                  for row in result if row.import_type in flags]
        if not params:
            return
        qn = connection.ops.quote_name
        columns = ("action_time", "user_id", "content_type_id", "object_id", "object_repr",
                   "action_flag", "change_message")
        sql = (f"INSERT INTO {qn(LogEntry._meta.db_table)} "
               f"({', '.join(qn(LogEntry._meta.get_field(c).column) for c in columns)}) "
               f"VALUES ({', '.join(['%s'] * len(columns))})")
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def add_success_message(self, result, request):
        totals = result.totals
        messages.success(
            request,
            f"Import finished: {totals['new']} new, {totals['update']} changed, "
            f"{totals['skip']} unchanged {self.model._meta.verbose_name_plural}.",
        )


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
    list_display = ("seller_sku", "marketplace_code", "channel", "asin", "item_link",
                    "price_shown", "push_enabled", "last_pushed_quantity", "fba_fulfillable",
                    "account")
    list_select_related = ("account", "marketplace", "item", "fba_stock")
    list_filter = ("marketplace", "channel", MappedFilter, "push_enabled", "account")
    search_fields = ("seller_sku", "asin", "item__sku", "item__name")
    autocomplete_fields = ("item",)
    list_per_page = 100
    actions = ["map_to_item", "enable_push", "disable_push"]
    readonly_fields = ("target_quantity_now", "last_pushed_quantity", "last_pushed_quantity_at",
                       "last_pushed_price", "last_pushed_price_at", "discovered_from",
                       "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("account", "marketplace", "seller_sku", "item")}),
        ("Amazon", {"fields": ("asin", "fnsku", "parent_asin", "channel", "condition",
                               "product_type")}),
        ("Price and push", {"fields": ("price", "currency", "push_enabled", "buffer_quantity",
                                       "max_quantity", "target_quantity_now")}),
        ("Last pushed", {"fields": ("last_pushed_quantity", "last_pushed_quantity_at",
                                    "last_pushed_price", "last_pushed_price_at")}),
        ("Record", {"fields": ("discovered_from", "created_at", "updated_at")}),
    )

    @admin.display(description="marketplace", ordering="marketplace__code")
    def marketplace_code(self, obj):
        return obj.marketplace.code

    @admin.display(description="item", ordering="item__sku")
    def item_link(self, obj):
        if obj.item is None:
            return format_html('<span style="color:#ba2121">{}</span>', "unmapped")
        url = reverse("admin:catalog_item_change", args=[obj.item_id])
        return format_html('<a href="{}">{}</a>', url, obj.item.sku)

    @admin.display(description="price", ordering="price")
    def price_shown(self, obj):
        return money_display(obj.price, obj.currency)

    @admin.display(description="FBA fulfillable")
    def fba_fulfillable(self, obj):
        stock = getattr(obj, "fba_stock", None) if obj.channel == "FBA" else None
        return stock.fulfillable if stock is not None else "—"

    @admin.display(description="target quantity now")
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
                   "form": form, "queryset": queryset, "opts": self.model._meta,
                   "action": "map_to_item"}
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
    list_display = ("sku", "name", "barcode", "active", "kit", "on_hand", "reserved",
                    "unit_cost_shown")
    list_select_related = ("merchant_stock",)
    list_filter = ("active",)
    search_fields = ("sku", "name", "barcode")
    readonly_fields = ("available_now", "created_at", "updated_at")
    fields = ("sku", "name", "barcode", "unit_cost", "cost_currency", "active",
              "available_now", "created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(component_count=Count("components"))

    @admin.display(boolean=True, description="kit")
    def kit(self, obj):
        return bool(getattr(obj, "component_count", 0))

    @admin.display(description="on hand")
    def on_hand(self, obj):
        stock = getattr(obj, "merchant_stock", None)
        return stock.on_hand if stock is not None else 0

    @admin.display(description="reserved")
    def reserved(self, obj):
        stock = getattr(obj, "merchant_stock", None)
        return stock.reserved if stock is not None else 0

    @admin.display(description="unit cost")
    def unit_cost_shown(self, obj):
        return money_display(obj.unit_cost, obj.cost_currency)

    @admin.display(description="available now (kits: from components)")
    def available_now(self, obj):
        return selectors.item_available(item=obj) if obj.pk else "—"


@admin.register(MerchantStock)
class MerchantStockAdmin(ModelAdmin):
    list_display = ("item", "on_hand", "reserved", "available", "updated_at")
    list_select_related = ("item",)
    search_fields = ("item__sku", "item__name")
    autocomplete_fields = ("item",)

    @admin.display(description="available")
    def available(self, obj):
        return obj.available


@admin.register(FbaStock)
class FbaStockAdmin(ReadOnlyAdmin):
    list_display = ("seller_sku", "marketplace_code", "fulfillable", "inbound", "reserved",
                    "unfulfillable", "amazon_updated_at", "pulled_at")
    list_select_related = ("listing", "listing__marketplace")
    list_filter = ("listing__marketplace",)
    search_fields = ("listing__seller_sku", "listing__asin", "listing__fnsku")

    @admin.display(description="seller SKU", ordering="listing__seller_sku")
    def seller_sku(self, obj):
        return obj.listing.seller_sku

    @admin.display(description="marketplace")
    def marketplace_code(self, obj):
        return obj.listing.marketplace.code


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
        return obj.discrepancy


@admin.register(InboundShipment)
class InboundShipmentAdmin(ReadOnlyAdmin):
    inlines = [InboundShipmentItemInline]
    list_display = ("shipment_id", "name", "marketplace", "status", "destination_fc",
                    "shipped", "received", "closed_at")
    list_select_related = ("marketplace",)
    list_filter = ("status", "marketplace")
    search_fields = ("shipment_id", "name", "items__seller_sku")
    exclude = ("raw",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            total_shipped=Sum("items__quantity_shipped"),
            total_received=Sum("items__quantity_received"),
        )

    @admin.display(description="shipped", ordering="total_shipped")
    def shipped(self, obj):
        return obj.total_shipped or 0

    @admin.display(description="received", ordering="total_received")
    def received(self, obj):
        return obj.total_received or 0


@admin.register(PushFeed)
class PushFeedAdmin(ReadOnlyAdmin):
    list_display = ("submitted_at", "kind", "account", "marketplace", "feed_id", "status",
                    "messages", "accepted", "rejected", "finished_at")
    list_select_related = ("account", "marketplace")
    list_filter = ("kind", "status", "marketplace")
    search_fields = ("feed_id",)


@register_object_link("listing")
def _listing_link(exc):
    listing_id = (exc.payload or {}).get("listing_id")
    if not listing_id:
        return None
    return reverse("admin:catalog_listing_change", args=[listing_id])
