"""Orders admin: orders (read-only data from Amazon) with lines and shipments inline, a
"record shipment" form for MFN orders, shipments, customers and editable carrier mappings.
Thin: forms and actions call services. Changelists run a constant number of queries."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from amazonsync.adminkit import (
    ImportExportHistoryAdmin,
    ModelAdmin,
    ReadOnlyAdmin,
    TabularInline,
    money_display,
)
from amazonsync.spreadsheets import CSV, XLSX  # inert formulas, exact keys

from . import selectors, services
from .forms import RecordShipmentForm
from .models import (
    SHIPPABLE_STATUSES,
    CarrierMapping,
    Customer,
    FulfillmentChannel,
    Order,
    OrderLine,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from .resources import CarrierMappingResource


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
    show_change_link = False
    fields = ("order_item_id", "seller_sku", "asin", "listing", "unmapped", "quantity_ordered",
              "quantity_shipped", "cancelled", "reserved_quantity", "price", "tax", "shipping",
              "discount")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("listing", "listing__marketplace")

    @admin.display(description="item price")
    def price(self, line):
        return money_display(line.item_price, line.currency)

    @admin.display(description="item tax")
    def tax(self, line):
        return money_display(line.item_tax, line.currency)

    @admin.display(description="shipping")
    def shipping(self, line):
        return money_display(line.shipping_price, line.currency)

    @admin.display(description="promotion")
    def discount(self, line):
        return money_display(line.promotion_discount, line.currency)


class ShipmentInline(_ReadOnlyInline):
    model = Shipment
    show_change_link = True
    fields = ("package_reference_id", "carrier", "carrier_code", "tracking_number",
              "ship_date", "status", "confirmed_at", "last_error")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders come from Amazon: viewable, never added, edited or deleted here."""

    list_display = ("amazon_order_id", "marketplace_code", "sales_channel", "purchase_date",
                    "status", "fulfillment_channel", "prime", "total", "last_update_date",
                    "ack_sla_met")
    list_select_related = ("marketplace",)
    list_filter = ("marketplace", "sales_channel", "fulfillment_channel", "status",
                   HasExceptionsFilter, UnmappedFilter, "is_prime", "is_seller_fulfilled_prime",
                   "is_business", "source", "ack_sla_met")
    date_hierarchy = "purchase_date"
    search_fields = ("=amazon_order_id", "seller_order_id", "=lines__seller_sku",
                     "=lines__asin")
    search_help_text = "Amazon order id, seller order id, seller SKU or ASIN"
    show_full_result_count = False
    list_per_page = 100
    inlines = [OrderLineInline, ShipmentInline]
    change_form_template = "admin/orders/order/change_form.html"
    readonly_fields = ("customer_link", "raw_pretty")
    exclude = ("raw", "customer")

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in Order._meta.fields if f.name not in ("raw", "customer", "id")]
        return [*names, "customer_link", "raw_pretty"]

    @admin.display(description="marketplace", ordering="marketplace__code")
    def marketplace_code(self, order):
        return order.marketplace.code

    @admin.display(description="Prime", boolean=True, ordering="is_prime")
    def prime(self, order):
        return order.is_prime

    @admin.display(description="total", ordering="order_total")
    def total(self, order):
        return money_display(order.order_total, order.currency)

    @admin.display(description="customer")
    def customer_link(self, order):
        if order.customer_id is None:
            return "—"
        url = reverse("admin:orders_customer_change", args=[order.customer_id])
        return format_html('<a href="{}">{}</a>', url, order.customer)

    @admin.display(description="Amazon payload")
    def raw_pretty(self, order):
        import json

        return format_html("<pre style='white-space:pre-wrap'>{}</pre>",
                           json.dumps(order.raw, indent=2, default=str)[:20000])

    def get_urls(self):
        return [
            path("<path:object_id>/record-shipment/",
                 self.admin_site.admin_view(self.record_shipment_view),
                 name="orders_order_record_shipment"),
            *super().get_urls(),
        ]

    def _can_record(self, request, order) -> bool:
        return (order.fulfillment_channel == FulfillmentChannel.MFN
                and order.status in SHIPPABLE_STATUSES
                and request.user.has_perm("orders.add_shipment"))

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        context["can_record_shipment"] = obj is not None and self._can_record(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def record_shipment_view(self, request, object_id):
        order = get_object_or_404(Order.objects.select_related("marketplace"), pk=object_id)
        if not request.user.has_perm("orders.add_shipment"):
            raise PermissionDenied
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
            "title": f"Record shipment for {order}", "opts": Order._meta, "order": order,
            "form": form,
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
    list_display = ("order", "package_reference_id", "carrier", "carrier_code",
                    "tracking_number", "ship_date", "status", "confirmed_at", "short_error")
    list_select_related = ("order",)
    list_filter = ("status", "carrier", "order__marketplace")
    search_fields = ("=order__amazon_order_id", "tracking_number")
    show_full_result_count = False
    inlines = [ShipmentLineInline]
    actions = ["send_again"]
    fields = ("order", "package_reference_id", "carrier", "ship_method", "tracking_number",
              "ship_date", "status", "carrier_code", "carrier_name", "shipping_method",
              "attempts", "confirmed_at", "last_error", "amazon_response", "created_by")

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

    @admin.display(description="Amazon's answer / problem")
    def short_error(self, shipment):
        return shipment.last_error[:120]

    @admin.action(description="Send rejected packages again (after fixing them)",
                  permissions=["change"])
    def send_again(self, request, queryset):
        n = services.shipments_requeue(shipment_ids=queryset.values_list("pk", flat=True))
        messages.success(request, f"{n} package(s) will be confirmed on the next run.")


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Customers are derived from orders; a superuser may delete one."""

    superuser_may_delete = True
    list_display = ("__str__", "buyer_token", "order_key", "country_code", "order_count",
                    "created_at")
    search_fields = ("=buyer_token", "=order_key", "name")
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
