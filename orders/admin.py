"""Orders admin: orders (read-only data from Amazon) with lines and shipments inline, a
"record shipment" form for MFN orders, shipments, customers and editable carrier mappings.
Thin: forms and actions call services. Changelists run a constant number of queries."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.decorators import action, display

from amazonsync.adminkit import (
    ImportExportHistoryAdmin,
    ModelAdmin,
    ReadOnlyAdmin,
    TabularInline,
    money_display,
)
from amazonsync.spreadsheets import CSV, XLSX  # inert formulas, exact keys
from marketplaces.reference import marketplace_label

from . import selectors, services
from .forms import RecordShipmentForm
from .models import (
    SHIPPABLE_STATUSES,
    CarrierMapping,
    Customer,
    FulfillmentChannel,
    Order,
    OrderLine,
    OrderStatus,
    SalesChannel,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from .resources import CarrierMappingResource

STATUS_BADGES = {
    OrderStatus.PENDING: "", OrderStatus.PENDING_AVAILABILITY: "",
    OrderStatus.UNSHIPPED: "warning", OrderStatus.PARTIALLY_SHIPPED: "warning",
    OrderStatus.INVOICE_UNCONFIRMED: "warning", OrderStatus.SHIPPED: "success",
    OrderStatus.CANCELED: "", OrderStatus.UNFULFILLABLE: "danger",
}
CHANNEL_BADGES = {"FBA": "info", "MFN": "primary", "MCF": "info"}
SHIPMENT_BADGES = {
    ShipmentStatus.PENDING: "warning", ShipmentStatus.CONFIRMED: "success",
    ShipmentStatus.FAILED: "danger", ShipmentStatus.CANCELED: "",
}


class ShipByFilter(admin.SimpleListFilter):
    title = "ship-by time (MFN)"
    parameter_name = "ship_by"

    def lookups(self, request, model_admin):
        return ((selectors.OVERDUE, "Overdue: not shipped in time"),
                (selectors.DUE_SOON, "Due within 24 hours"))

    def queryset(self, request, queryset):
        if self.value() in (selectors.OVERDUE, selectors.DUE_SOON):
            return queryset.filter(selectors.ship_by_q(self.value(), now=timezone.now()))
        return queryset


class HasExceptionsFilter(admin.SimpleListFilter):
    title = "exceptions"
    parameter_name = "exceptions"

    def lookups(self, request, model_admin):
        return (("yes", "Has open exceptions"), ("no", "No open exceptions"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(selectors.open_exceptions_exist())
        if self.value() == "no":
            return queryset.exclude(selectors.open_exceptions_exist())
        return queryset


class UnmappedFilter(admin.SimpleListFilter):
    title = "SKU mapping"
    parameter_name = "unmapped"

    def lookups(self, request, model_admin):
        return (("yes", "Has unmapped lines"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(lines__unmapped=True).distinct()
        return queryset


class _ReadOnlyInline(TabularInline):
    """Rows shown with their parent, never added or edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderLineInline(_ReadOnlyInline):
    model = OrderLine
    tab = True
    show_change_link = False
    fields = ("seller_sku", "mapping", "quantity_ordered", "quantity_shipped", "cancelled",
              "reserved_quantity", "price", "tax", "shipping", "discount")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("listing__item")

    @admin.display(description="mapped to item")
    def mapping(self, line):
        item = line.listing.item if line.listing_id else None
        if item is None:
            return format_html('<span class="as-badge as-badge-red">{}</span>', "Unmapped")
        url = reverse("admin:catalog_item_change", args=[item.pk])
        return format_html('<a href="{}">{}</a>', url, item.sku)

    @admin.display(description="item price")
    def price(self, line):
        return _money(line.item_price, line.currency)

    @admin.display(description="item tax")
    def tax(self, line):
        return _money(line.item_tax, line.currency)

    @admin.display(description="shipping")
    def shipping(self, line):
        return _money(line.shipping_price, line.currency)

    @admin.display(description="promotion")
    def discount(self, line):
        return _money(line.promotion_discount, line.currency)


class ShipmentInline(_ReadOnlyInline):
    model = Shipment
    tab = True
    show_change_link = True
    fields = ("package_reference_id", "carrier", "carrier_code", "tracking_number",
              "ship_date", "status_shown", "confirmed_at", "last_error")
    readonly_fields = fields

    @admin.display(description="status")
    def status_shown(self, shipment):
        return _shipment_badge(shipment)


def _pretty_json(value):
    """Amazon's JSON, indented, as Amazon wrote it (never a Python repr)."""
    if not value:
        return "—"
    return format_html("<pre style='white-space:pre-wrap'>{}</pre>",
                       json.dumps(value, indent=2, default=str)[:20000])


def _money(amount, currency):
    """A money cell that never wraps between the amount and its currency code."""
    return format_html('<span class="as-money">{}</span>', money_display(amount, currency))


def _shipment_badge(shipment):
    css = {"warning": "amber", "success": "green", "danger": "red"}.get(
        SHIPMENT_BADGES.get(shipment.status, ""), "grey")
    return format_html('<span class="as-badge as-badge-{}">{}</span>', css,
                       shipment.get_status_display())


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders come from Amazon: viewable, never added, edited or deleted here."""

    list_display = ("amazon_order_id", "marketplace_name", "purchase_date", "status_badge",
                    "channel_badge", "prime", "total", "ship_by", "on_time")
    list_filter = (ShipByFilter, "status", "marketplace", "fulfillment_channel",
                   "sales_channel", HasExceptionsFilter, UnmappedFilter, "is_prime",
                   "is_seller_fulfilled_prime", "is_business", "source", "ack_sla_met")
    date_hierarchy = "purchase_date"
    search_fields = ("=amazon_order_id", "seller_order_id", "=lines__seller_sku",
                     "=lines__asin")
    search_help_text = "Amazon order ID, seller order ID, seller SKU or ASIN"
    show_full_result_count = False
    list_per_page = 100
    inlines = [OrderLineInline, ShipmentInline]
    actions_detail = ["record_shipment"]
    list_before_template = "admin/orders/order/totals.html"
    fieldsets = (
        ("Summary", {"classes": ["tab"], "fields": (
            "amazon_order_id", "marketplace_shown", "status", "purchase_date",
            "fulfillment_channel", "sales_channel", "total_shown", "customer_link",
            "is_prime", "is_seller_fulfilled_prime", "is_business", "is_premium",
            "seller_order_id", "fulfils", "is_replacement", "replaced_order_id",
            "account")}),
        ("Shipping", {"classes": ["tab"], "fields": (
            "ship_service_level", "ship_service_category", "earliest_ship_date",
            "latest_ship_date", "ship_city", "ship_state", "ship_postal_code",
            "ship_country", "purchase_order_number")}),
        ("History", {"classes": ["tab"], "fields": (
            "last_update_date", "first_stored_at",
            "version_stored_at", "shipped_at", "acknowledged_at", "ack_sla_met", "source",
            "updated_at", "raw_pretty")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [name for _, options in self.fieldsets for name in options["fields"]]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        cl = context.get("cl")
        if cl is not None and cl.result_count:
            context["totals"] = [
                (money_display(total, currency), n)
                for currency, total, n in selectors.totals_by_currency(cl.queryset)]
        return response

    @admin.display(description="marketplace", ordering="marketplace__code")
    def marketplace_name(self, order):
        return marketplace_label(order.marketplace_id)

    @admin.display(description="marketplace")
    def marketplace_shown(self, order):
        return marketplace_label(order.marketplace_id)

    @display(description="status", ordering="status", label=STATUS_BADGES)
    def status_badge(self, order):
        return order.status, order.get_status_display()

    @display(description="fulfilment", ordering="fulfillment_channel", label=CHANNEL_BADGES)
    def channel_badge(self, order):
        if order.sales_channel == SalesChannel.MCF:
            return "MCF", "MCF"
        short = "FBA" if order.fulfillment_channel == FulfillmentChannel.AFN else "MFN"
        return short, short

    @admin.display(description="Prime", boolean=True, ordering="is_prime")
    def prime(self, order):
        return order.is_prime

    @admin.display(description="total", ordering="order_total")
    def total(self, order):
        return _money(order.order_total, order.currency)

    @admin.display(description="order total")
    def total_shown(self, order):
        return money_display(order.order_total, order.currency)

    @admin.display(description="ship by", ordering="latest_ship_date")
    def ship_by(self, order):
        when = order.latest_ship_date
        if when is None:
            return "—"
        shown = timezone.localtime(when).strftime("%d %b %H:%M")
        if not (order.is_mfn and order.status in SHIPPABLE_STATUSES):
            return shown
        now = timezone.now()
        if when < now:
            return format_html('<span class="as-badge as-badge-red">{} overdue</span>', shown)
        if when < now + selectors.SHIP_BY_SOON:
            return format_html('<span class="as-badge as-badge-amber">{}</span>', shown)
        return shown

    @admin.display(description="shipped on time", boolean=True, ordering="ack_sla_met")
    def on_time(self, order):
        return order.ack_sla_met

    @admin.display(description="customer")
    def customer_link(self, order):
        if order.customer_id is None:
            return "—"
        url = reverse("admin:orders_customer_change", args=[order.customer_id])
        return format_html('<a href="{}">{}</a>', url, order.customer)

    @admin.display(description="as Amazon sent it")
    def raw_pretty(self, order):
        return _pretty_json(order.raw)

    def _can_record(self, request, order) -> bool:
        return (order.fulfillment_channel == FulfillmentChannel.MFN
                and order.status in SHIPPABLE_STATUSES
                and request.user.has_perm("orders.add_shipment"))

    def has_record_shipment_permission(self, request, object_id=None):
        return request.user.has_perm("orders.add_shipment")

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        order = Order.objects.filter(pk=object_id).only(
            "fulfillment_channel", "status").first()
        if order is None or not self._can_record(request, order):
            return [a for a in actions if not a.action_name.endswith("_record_shipment")]
        return actions

    @action(description="Record shipment", url_path="record-shipment", icon="local_shipping",
            permissions=["record_shipment"])
    def record_shipment(self, request, object_id):
        order = get_object_or_404(Order.objects.select_related("marketplace"), pk=object_id)
        if not self._can_record(request, order):
            messages.error(request, "Only unshipped MFN orders can get a shipment.")
            return redirect("admin:orders_order_change", order.pk)
        lines = selectors.unshipped_lines(order)
        form = RecordShipmentForm(request.POST or None, lines=lines)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                shipment = services.shipment_record(
                    order=order, carrier=data["carrier"], ship_method=data["ship_method"],
                    tracking_number=data["tracking_number"], ship_date=data["ship_date"],
                    lines=form.quantities(), package_reference_id=data["package_reference_id"],
                    user=request.user,
                )
            except services.ShipmentInvalid as err:
                form.add_error(None, str(err))
            else:
                messages.success(request, f"Package {shipment.package_reference_id} recorded; "
                                          "the shipments flow will confirm it to Amazon.")
                return redirect("admin:orders_order_change", order.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Record a package for {order}", "opts": Order._meta, "order": order,
            "original": order,
            "marketplace": marketplace_label(order.marketplace_id), "form": form,
        }
        return TemplateResponse(request, "admin/orders/order/record_shipment.html", context)


class ShipmentLineInline(TabularInline):
    model = ShipmentLine
    extra = 0
    can_delete = False
    fields = ("order_line", "quantity")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Shipment)
class ShipmentAdmin(ModelAdmin):
    list_display = ("order", "package_reference_id", "carrier", "tracking_number",
                    "ship_date", "status_badge", "confirmed_at", "short_error")
    list_select_related = ("order",)
    list_filter = ("status", "carrier", "order__marketplace")
    search_fields = ("=order__amazon_order_id", "tracking_number")
    search_help_text = "Amazon order ID or tracking number"
    show_full_result_count = False
    inlines = [ShipmentLineInline]
    actions = ["send_again"]
    fields = ("order", "package_reference_id", "carrier", "ship_method", "tracking_number",
              "ship_date", "status", "carrier_code", "carrier_name", "shipping_method",
              "attempts", "confirmed_at", "last_error", "amazon_answer", "created_by")

    def get_readonly_fields(self, request, obj=None):
        editable = {"carrier", "ship_method", "tracking_number"}
        if obj is not None and obj.status in (ShipmentStatus.PENDING, ShipmentStatus.FAILED):
            return [f for f in self.fields if f not in editable]
        return list(self.fields)

    def has_add_permission(self, request):
        return False  # recorded from the order ("Record shipment")

    def has_delete_permission(self, request, obj=None):
        return bool(obj is None or obj.status != ShipmentStatus.CONFIRMED) and \
            super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        try:
            services.shipment_update(shipment=obj, tracking_number=obj.tracking_number,
                                     carrier=obj.carrier, ship_method=obj.ship_method)
        except services.ShipmentInvalid as err:
            raise ValidationError(str(err)) from err

    @display(description="status", ordering="status", label=SHIPMENT_BADGES)
    def status_badge(self, shipment):
        return shipment.status, shipment.get_status_display()

    @admin.display(description="Amazon's answer")
    def amazon_answer(self, shipment):
        return _pretty_json(shipment.amazon_response)

    @admin.display(description="Amazon's answer / problem")
    def short_error(self, shipment):
        return shipment.last_error[:120] or "—"

    @admin.action(description="Send rejected packages again (after fixing them)",
                  permissions=["change"])
    def send_again(self, request, queryset):
        n = services.shipments_requeue(shipment_ids=queryset.values_list("pk", flat=True))
        messages.success(request, f"{n} package(s) will be confirmed on the next run.")


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Customers are derived from orders; a superuser may delete one."""

    superuser_may_delete = True
    list_display = ("__str__", "country_code", "order_count", "buyer_token", "created_at")
    search_fields = ("=buyer_token", "=order_key", "name")
    search_help_text = "Anonymised buyer e-mail, order ID or name"
    show_full_result_count = False
    readonly_fields = ("account", "buyer_token", "order_key", "name", "country_code",
                       "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_orders=Count("orders"))

    @admin.display(description="orders", ordering="n_orders")
    def order_count(self, customer):
        return customer.n_orders


@admin.register(CarrierMapping)
class CarrierMappingAdmin(ImportExportHistoryAdmin):
    resource_classes = [CarrierMappingResource]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    list_display = ("carrier", "ship_method", "amazon_carrier_code", "amazon_carrier_name",
                    "shipping_method", "active")
    list_editable = ("amazon_carrier_code", "amazon_carrier_name", "shipping_method", "active")
    list_filter = ("active", "amazon_carrier_code")
    search_fields = ("carrier", "ship_method", "amazon_carrier_code")

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def save_model(self, request, obj, form, change):
        try:
            services.carrier_mapping_save(mapping=obj)
        except ValueError as err:
            raise ValidationError(str(err)) from err
