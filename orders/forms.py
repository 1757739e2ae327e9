"""Admin forms: recording an MFN package."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from .models import CarrierMapping, OrderLine


class RecordShipmentForm(forms.Form):
    """One package: carrier (a mapping, or our carrier name typed in), tracking number, ship
    date and the quantity of each unshipped line in the package."""

    mapping = forms.ModelChoiceField(
        queryset=CarrierMapping.objects.filter(active=True), required=False,
        label="Carrier", help_text="a mapped carrier (Amazon's code is shown)",
        widget=UnfoldAdminSelectWidget,
    )
    carrier = forms.CharField(
        max_length=64, required=False, label="…or carrier name",
        widget=UnfoldAdminTextInputWidget,
        help_text="our name for a carrier not in the list (the shipments flow will ask for a "
        "mapping before sending anything to Amazon)",
    )
    ship_method = forms.CharField(max_length=64, required=False,
                                  widget=UnfoldAdminTextInputWidget)
    tracking_number = forms.CharField(max_length=64, required=False,
                                      widget=UnfoldAdminTextInputWidget)
    ship_date = forms.DateTimeField(
        label="Ship date", initial=lambda: timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        widget=UnfoldAdminTextInputWidget,
        help_text="when the package left, e.g. 2026-11-02 10:00")
    package_reference_id = forms.CharField(
        label="Package reference", max_length=64, required=False,
        help_text="leave empty to number packages 1, 2, 3…", widget=UnfoldAdminTextInputWidget,
    )

    def __init__(self, *args, lines: list[OrderLine], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order_lines = lines
        for line in lines:
            self.fields[f"qty_{line.pk}"] = forms.IntegerField(
                min_value=0, max_value=line.quantity_unshipped, initial=line.quantity_unshipped,
                label=f"{line.seller_sku} ({line.quantity_unshipped} unshipped)",
                widget=UnfoldAdminIntegerFieldWidget,
            )

    def clean(self):
        data = super().clean()
        mapping = data.get("mapping")
        if mapping is None and not (data.get("carrier") or "").strip():
            raise forms.ValidationError("Choose a carrier or type its name.")
        if mapping is not None:
            data["carrier"] = mapping.carrier
            data["ship_method"] = data.get("ship_method") or mapping.ship_method
        if not any(data.get(f"qty_{line.pk}") for line in self.order_lines):
            raise forms.ValidationError("Put at least one unit in the package.")
        return data

    def quantities(self) -> list[tuple[OrderLine, int]]:
        return [(line, self.cleaned_data[f"qty_{line.pk}"]) for line in self.order_lines
                if self.cleaned_data.get(f"qty_{line.pk}")]
