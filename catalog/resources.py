"""CSV/XLSX import and export of listings and items (django-import-export).

Ops staff edit mappings in a spreadsheet; these resources make that safe:

* every cell is checked up front, in one pass, with a plain-language reason (line number
  and column included) for anything wrong; if any row is wrong nothing is written;
* rows are keyed on Amazon's natural key (seller account, marketplace code, seller SKU) or
  the internal SKU, and a row that matches the database exactly is skipped, so importing the
  same file twice changes nothing;
* writes are bulk (import-export's ``use_bulk``), each with its history row
  (simple_history's bulk helpers), so a 50,000-row file imports in one go;
* exported cells that a spreadsheet would run as a formula (= + - @ at the start) are
  neutralised with a leading apostrophe, which the import strips again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from import_export import fields, resources, widgets
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from amazonsync.money import decimals
from marketplaces.models import Marketplace, SellerAccount
from marketplaces.reference import CODE_ALIASES

from .models import Item, Listing
from .parsers import (
    CHANNEL_ALIASES,
    CONDITIONS,
    CURRENCY_RE,
    FNSKU_RE,
    SELLER_SKU_MAX,
    CellError,
    ParsedRow,
    asin_problem,
    cell_text,
    neutralise,
    normalise_header,
    parse_money,
    parse_whole,
    parse_yes_no,
)

PREVIEW_CHANGES = 3  # changed columns spelled out per row in the preview
CHUNK = 900  # keys per IN (...) query: SQLite takes at most 999 parameters


class _Widget(widgets.Widget):
    """Export-side rendering with formula neutralisation; import parsing is the resource's."""

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        return neutralise(str(value))


class StrictResource(resources.ModelResource):
    """Shared machinery: header checks, an up-front validation pass, bulk writes with history.

    The import runs through import-export's own row loop and hooks:

    * ``before_import`` checks the headings, parses and checks every row in one pass (with
      the rows' references loaded in a few queries) and loads the stored rows by key;
    * per row, ``before_import_row`` picks the parsed row, ``get_or_init_instance`` returns
      the stored instance (or a new one), ``import_instance`` sets the parsed values or
      raises the row's reasons as a ``ValidationError``, ``skip_row`` leaves out blank and
      unchanged rows, and ``save_instance`` queues the rest (``use_bulk``);
    * ``bulk_create``/``bulk_update`` write the queued rows with their history rows
      (``simple_history.utils``), and only when every row of the file is valid: one bad row
      and nothing is written, in the preview (dry run) nothing at all.

    Rows hold no model instance once written (``store_instance`` stays off even when the
    admin asks to retain them): a new row's result gets its id after its batch is written,
    and the admin writes its log entries from ids and reprs, so a 50,000-row file does not
    keep 50,000 instances alive to the end.
    """

    #: (column, required) in file order
    COLUMNS: tuple[tuple[str, bool], ...] = ()
    TITLE = "rows"
    CHANGE_REASON = "CSV import"
    #: what a changed row updates (besides updated_at): every column but the key
    UPDATE_FIELDS: tuple[str, ...] = ()

    class Meta:
        use_bulk = True
        skip_unchanged = True
        report_skipped = False  # counted in the totals; nothing shows or logs them
        skip_diff = True
        clean_model_instances = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.user = kwargs.get("user")
        self.parsed: dict[int, ParsedRow] = {}
        self.existing: dict[tuple, object] = {}
        self.current: ParsedRow | None = None
        self.instance = None  # the current row's instance
        self.unnumbered: list = []  # (row result, instance) of queued new rows
        self.refused = False  # some row is invalid: nothing is written
        self.now = timezone.now()

    # --- headers --------------------------------------------------------------------
    @classmethod
    def column_names(cls) -> list[str]:
        return [name for name, _ in cls.COLUMNS]

    @classmethod
    def header_problem(cls, headers) -> str | None:
        """Why the file's columns do not fit, in words, or None."""
        given = [normalise_header(h) for h in headers or []]
        known = cls.column_names()
        required = [name for name, req in cls.COLUMNS if req]
        missing = [name for name in required if name not in given]
        unknown = [str(h) for h, n in zip(headers or [], given, strict=False)
                   if n and n not in known]
        repeated = sorted({n for n in given if n and given.count(n) > 1})
        if not (missing or unknown or repeated):
            return None
        parts = []
        if missing:
            parts.append("missing column(s): " + ", ".join(missing))
        if unknown:
            parts.append("column(s) we do not know: " + ", ".join(unknown))
        if repeated:
            parts.append("column(s) given twice: " + ", ".join(repeated))
        return (f"The file's columns do not match the {cls.TITLE} template ("
                + "; ".join(parts) + "). The first line must hold the column headings: "
                + ", ".join(known) + ". Export the current data to get a file with the "
                "right columns.")

    @classmethod
    def field_from_django_field(cls, field_name, django_field, readonly):
        """Every column exports through ``_Widget``; import parsing is ``parse_row``'s."""
        return fields.Field(field_name, field_name, widget=_Widget(), readonly=readonly)

    # --- the validation pass -----------------------------------------------------------
    def before_import(self, dataset, **kwargs):
        self.user = kwargs.get("user") or self.user
        self.now = timezone.now()
        problem = self.header_problem(dataset.headers)
        if problem:
            del dataset[:]  # reported on the result; no row is looked at
            raise ValidationError(problem)
        dataset.headers = headers = [normalise_header(h) for h in dataset.headers]
        self.prepare_lookups(lambda name: [cell_text(v) for v in dataset[name]]
                             if name in headers else [])
        first_line: dict[tuple, int] = {}
        self.parsed = {}
        for number, values in enumerate(dataset, 1):  # a row's cells are read when parsed
            raw = {h: cell_text(v) for h, v in zip(headers, values, strict=False)}
            parsed = self.parsed[number] = ParsedRow(number)
            if not any(raw.values()):
                parsed.blank = True
                continue
            self.parse_row(raw, parsed)
            if parsed.key is not None:
                if parsed.key in first_line:
                    self.duplicate(parsed, first_line[parsed.key])
                else:
                    first_line[parsed.key] = parsed.line
        self.refused = any(p.errors for p in self.parsed.values())
        self.existing = self.load_existing([p.key for p in self.parsed.values()
                                            if p.key is not None and not p.errors])

    def prepare_lookups(self, column: Callable[[str], list[str]]) -> None:
        """Load what rows refer to (accounts, items...) in a few queries; ``column(name)``
        gives a column's cells."""

    def parse_row(self, raw: dict, parsed: ParsedRow) -> None:
        raise NotImplementedError

    def duplicate(self, parsed: ParsedRow, first: int) -> None:
        raise NotImplementedError

    def load_existing(self, keys: list[tuple]) -> dict[tuple, object]:
        raise NotImplementedError

    def required_text(self, raw: dict, parsed: ParsedRow, column: str, label: str) -> str:
        text = raw.get(column, "")
        if not text:
            parsed.fail(column, f"{label} is required but the cell is empty")
        return text

    # --- the row hooks -----------------------------------------------------------------
    def before_import_row(self, row, **kwargs):
        self.current = self.parsed[kwargs["row_number"]]

    def import_row(self, row, instance_loader, **kwargs):
        kwargs["retain_instance_in_row_result"] = False  # see the class docstring
        return super().import_row(row, instance_loader, **kwargs)

    def get_or_init_instance(self, instance_loader, row):
        parsed = self.current
        instance = None if parsed.errors else self.existing.get(parsed.key)
        new = instance is None
        self.instance = instance = self.init_instance(row) if new else instance
        return instance, new

    def import_instance(self, instance, row, **kwargs):
        """The row's parsed values onto the instance (each change noted for the preview)."""
        parsed = self.current
        if parsed.errors:
            raise ValidationError(parsed.errors)
        if parsed.blank:
            return
        if instance.pk is None:
            for attribute, value in parsed.values.items():
                setattr(instance, attribute, value)
            return
        for attribute, value in parsed.values.items():
            if attribute in self.fk_attributes:
                current_id = getattr(instance, f"{attribute}_id")
                if current_id == (value.pk if value is not None else None):
                    continue
                current = self.fk_shown(attribute, current_id)
            else:
                current = getattr(instance, attribute)
            if current != value:
                parsed.changes.append((attribute, _shown(current), _shown(value)))
                setattr(instance, attribute, value)

    fk_attributes: frozenset[str] = frozenset()

    def fk_shown(self, attribute: str, pk):
        """The old value of a foreign key, for the preview (no query per row)."""
        return pk

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """Blank rows, and stored rows the file does not change."""
        if import_validation_errors:
            return False
        parsed = self.current
        return parsed.blank or (instance.pk is not None and not parsed.changes)

    def after_import_row(self, row, row_result, **kwargs):
        parsed = self.current
        row_result.line = parsed.line
        row_result.changes = parsed.changes[:PREVIEW_CHANGES]
        row_result.more_changes = max(0, len(parsed.changes) - PREVIEW_CHANGES)
        if row_result.import_type == row_result.IMPORT_TYPE_NEW:
            self.unnumbered.append((row_result, self.instance))  # its id once written
        self.instance = None
        parsed.values = {}  # done with: a large file does not keep every row's values

    def before_save_instance(self, instance, row, **kwargs):
        instance.updated_at = self.now  # bulk_update does not stamp auto_now fields

    # --- the writes --------------------------------------------------------------------
    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None,
                    result=None):
        try:
            self._write(self.create_instances, dry_run, result, raise_errors,
                        lambda objs: bulk_create_with_history(
                            objs, self._meta.model, batch_size=batch_size, **self._history()))
        finally:
            for row_result, instance in self.unnumbered:
                row_result.object_id = instance.pk
            self.unnumbered.clear()

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None,
                    result=None):
        fields_ = self.get_bulk_update_fields()
        self._write(self.update_instances, dry_run, result, raise_errors,
                    lambda objs: bulk_update_with_history(
                        objs, self._meta.model, fields_, batch_size=batch_size,
                        **self._history()))

    def get_bulk_update_fields(self):
        return [*self.UPDATE_FIELDS, "updated_at"]

    def _history(self) -> dict:
        return {"default_user": self.user, "default_change_reason": self.CHANGE_REASON,
                "default_date": self.now}

    def _write(self, instances: list, dry_run: bool, result, raise_errors: bool,
               write) -> None:
        """import-export's bulk write, but all or nothing: not in the preview (dry run), not
        when any row of the file is invalid; a database refusal is reported on the result."""
        try:
            if instances and not (dry_run or self.refused):
                write(instances)
                self.written(instances)
        except Exception as e:  # noqa: BLE001 - reported on the result, as import-export does
            self.handle_import_error(result, e, raise_errors)
        finally:
            instances.clear()

    def written(self, instances: list) -> None:
        """After a batch is written (the new ones have their ids)."""


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Item):
        return value.sku
    if isinstance(value, Marketplace):
        return value.code
    if isinstance(value, SellerAccount):
        return value.selling_partner_id
    return str(value)


LISTING_COLUMNS = (
    ("seller_account", True), ("marketplace", True), ("seller_sku", True),
    ("channel", True), ("asin", False), ("fnsku", False), ("condition", False),
    ("parent_asin", False), ("product_type", False), ("item_sku", False),
    ("price", False), ("currency", False), ("push_enabled", False),
    ("buffer_quantity", False), ("max_quantity", False),
)
ITEM_COLUMNS = (("sku", True), ("name", True), ("barcode", False), ("unit_cost", False),
                ("cost_currency", False), ("active", False))


class ListingResource(StrictResource):
    """Listings (ASIN/SKU mappings), keyed on seller account + marketplace + seller SKU."""

    TITLE = "listings"
    COLUMNS = LISTING_COLUMNS
    UPDATE_FIELDS = ("channel", "asin", "fnsku", "condition", "parent_asin", "product_type",
                     "item", "price", "currency", "push_enabled", "buffer_quantity",
                     "max_quantity")
    fk_attributes = frozenset({"account", "marketplace", "item"})

    seller_account = fields.Field("account__selling_partner_id", "seller_account",
                                  widget=_Widget())
    marketplace = fields.Field("marketplace__code", "marketplace", widget=_Widget())
    item_sku = fields.Field("item__sku", "item_sku", widget=_Widget())

    class Meta:
        model = Listing
        fields = tuple(name for name, _ in LISTING_COLUMNS)
        import_id_fields = ("seller_account", "marketplace", "seller_sku")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.newly_mapped: list[int] = []  # ids of the listings the file mapped

    @classmethod
    def get_display_name(cls):
        return "Listings (ASIN/SKU mappings)"

    def get_queryset(self):
        return Listing.objects.select_related("account", "marketplace", "item")

    def fk_shown(self, attribute: str, pk):
        if pk is None:
            return None
        if attribute == "item":
            return self.old_item_skus.get(pk, pk)
        if attribute == "marketplace":
            return pk
        return next((a.selling_partner_id for a in self.accounts.values() if a.pk == pk), pk)

    # lookups
    def prepare_lookups(self, column: Callable[[str], list[str]]) -> None:
        self.accounts = {a.selling_partner_id.upper(): a
                         for a in SellerAccount.objects.prefetch_related("marketplaces")}
        self.marketplaces: dict[str, Marketplace] = {}
        for mp in Marketplace.objects.all():
            self.marketplaces[mp.code.upper()] = mp
            self.marketplaces[mp.id.upper()] = mp
        for alias, code in CODE_ALIASES.items():
            if code in self.marketplaces:
                self.marketplaces[alias] = self.marketplaces[code]
        self.enabled_codes = sorted({mp.code for a in self.accounts.values()
                                     for mp in a.marketplaces.all()}) or ["US", "DE"]
        skus = set(column("item_sku")) - {""}
        self.items = {item.sku: item for item in _in_chunks(Item.objects, "sku", skus)}

    def parse_row(self, raw: dict, p: ParsedRow) -> None:
        v = p.values
        account, marketplace, sku = self._parse_key(raw, p)
        channel_text = self.required_text(raw, p, "channel", "The channel")
        if channel_text:
            channel = CHANNEL_ALIASES.get(channel_text.upper())
            if channel is None:
                p.fail("channel", f'"{channel_text}" is not a fulfilment channel; use FBA '
                       "(Amazon ships) or MFN (we ship)")
            v["channel"] = channel
        for column in ("asin", "parent_asin"):
            text = raw.get(column, "").upper()
            if text:
                problem = asin_problem(text)
                if problem:
                    p.fail(column, problem)
            v[column] = text
        fnsku = raw.get("fnsku", "").upper()
        if fnsku and not FNSKU_RE.match(fnsku):
            p.fail("fnsku", f'"{fnsku}" is not an FNSKU: an FNSKU has 10 letters or digits, '
                   "e.g. X001ABCDEF")
        v["fnsku"] = fnsku
        condition = raw.get("condition", "").lower() or "new_new"
        if condition not in CONDITIONS:
            p.fail("condition", f'"{condition}" is not an Amazon condition; use one of '
                   + ", ".join(CONDITIONS))
        v["condition"] = condition
        v["product_type"] = raw.get("product_type", "").upper() or "PRODUCT"
        item_sku = raw.get("item_sku", "")
        v["item"] = None
        if item_sku:
            item = self.items.get(item_sku)
            if item is None:
                p.fail("item_sku", f'there is no item with internal SKU "{item_sku}"; create '
                       "the item first, or leave the cell empty to keep the listing unmapped")
            v["item"] = item
        self._parse_price(raw, p, marketplace)
        push = raw.get("push_enabled", "")
        try:
            v["push_enabled"] = parse_yes_no(push, "push_enabled") if push else True
        except CellError as err:
            p.fail("push_enabled", str(err))
        for column, default in (("buffer_quantity", 0), ("max_quantity", None)):
            text = raw.get(column, "")
            try:
                v[column] = parse_whole(text, column) if text else default
            except CellError as err:
                p.fail(column, str(err))
        if account is not None and marketplace is not None and sku:
            p.key = (account.pk, marketplace.pk, sku)
            v["account"], v["marketplace"], v["seller_sku"] = account, marketplace, sku

    def _parse_key(self, raw: dict, p: ParsedRow):
        """The row's seller account, marketplace and seller SKU (None/"" where wrong)."""
        account_id = self.required_text(raw, p, "seller_account", "The seller account")
        account = None
        if account_id:
            account = self.accounts.get(account_id.upper())
            if account is None:
                known = ", ".join(sorted(a.selling_partner_id for a in self.accounts.values()))
                p.fail("seller_account", f'there is no seller account "{account_id}"; use the '
                       f"seller ID of an account set up under Seller accounts ({known})")
        mp_text = self.required_text(raw, p, "marketplace", "The marketplace")
        marketplace = None
        if mp_text:
            marketplace = self.marketplaces.get(mp_text.upper())
            if marketplace is None:
                p.fail("marketplace", f'"{mp_text}" is not a marketplace we know; use a '
                       f"marketplace code such as {', '.join(self.enabled_codes)}")
        sku = self.required_text(raw, p, "seller_sku", "The seller SKU")
        if len(sku) > SELLER_SKU_MAX:
            p.fail("seller_sku", f"a seller SKU has at most {SELLER_SKU_MAX} characters "
                   f"(this one has {len(sku)})")
        return account, marketplace, sku

    def _parse_price(self, raw: dict, p: ParsedRow, marketplace: Marketplace | None) -> None:
        v = p.values
        text = raw.get("price", "")
        currency = raw.get("currency", "").upper()
        v["price"], v["currency"] = None, ""
        if currency and not CURRENCY_RE.match(currency):
            p.fail("currency", f'"{currency}" is not a currency code; use three letters '
                   "such as USD or EUR")
            return
        if not text:
            if currency:
                v["currency"] = currency
            return
        try:
            price = parse_money(text, "price")
        except CellError as err:
            p.fail("price", str(err))
            return
        if marketplace is not None:
            expected = marketplace.currency
            if currency and currency != expected:
                p.fail("currency", f"prices in {marketplace.code} are in {expected}, not "
                       f"{currency}")
                return
            currency = expected
        if not currency:
            p.fail("currency", "a price needs a currency; fill in the currency column")
            return
        places = decimals(currency)
        if price != price.quantize(Decimal(1).scaleb(-places)):
            p.fail("price", f"{currency} prices have at most {places} decimal places "
                   f"(the file says {text})")
            return
        v["price"], v["currency"] = price, currency

    def duplicate(self, parsed: ParsedRow, first: int) -> None:
        parsed.fail("seller_sku", "this seller account, marketplace and seller SKU are "
                    f"already on line {first}; each listing may appear only once in a file")

    def load_existing(self, keys: list[tuple]) -> dict[tuple, object]:
        """The stored listings by key; a large file reads its accounts' and marketplaces'
        listings whole (one query each) rather than by SKU."""
        by_pair: dict[tuple, set[str]] = {}
        for account_id, mp_id, sku in keys:
            by_pair.setdefault((account_id, mp_id), set()).add(sku)
        out: dict[tuple, object] = {}
        for (account_id, mp_id), skus in by_pair.items():
            qs = Listing.objects.filter(account_id=account_id, marketplace_id=mp_id)
            if len(skus) <= CHUNK:
                qs = qs.filter(seller_sku__in=skus)
            for listing in qs:
                if listing.seller_sku in skus:
                    out[(account_id, mp_id, listing.seller_sku)] = listing
        item_ids = {x.item_id for x in out.values() if x.item_id is not None}
        items = Item.objects.filter(pk__in=item_ids) if len(item_ids) < 20000 else Item.objects
        self.old_item_skus = dict(items.values_list("pk", "sku"))
        return out

    def import_instance(self, instance, row, **kwargs):
        unmapped = instance.item_id is None
        super().import_instance(instance, row, **kwargs)
        instance.newly_mapped = unmapped and instance.item_id is not None

    def written(self, instances: list) -> None:
        self.newly_mapped += [x.pk for x in instances if getattr(x, "newly_mapped", False)]

    def after_import(self, dataset, result, **kwargs):
        """Listings the file mapped: resolve their merch exceptions and retry the waiting."""
        if self._is_dry_run(kwargs) or self.refused or result.has_errors():
            return
        mapped = list(self.newly_mapped)
        if mapped:
            from .services import listings_mapping_applied

            user = kwargs.get("user")
            transaction.on_commit(lambda: listings_mapping_applied(
                listing_ids=mapped, actor=user, cause="mapping imported"))


class ItemResource(StrictResource):
    """Our items, keyed on the internal SKU."""

    TITLE = "items"
    COLUMNS = ITEM_COLUMNS
    UPDATE_FIELDS = ("name", "barcode", "unit_cost", "cost_currency", "active")

    class Meta:
        model = Item
        fields = tuple(name for name, _ in ITEM_COLUMNS)
        import_id_fields = ("sku",)

    @classmethod
    def get_display_name(cls):
        return "Items"

    def parse_row(self, raw: dict, p: ParsedRow) -> None:
        v = p.values
        sku = self.required_text(raw, p, "sku", "The internal SKU")
        if len(sku) > 64:
            p.fail("sku", f"an internal SKU has at most 64 characters (this one has {len(sku)})")
        name = self.required_text(raw, p, "name", "The name")
        v["sku"], v["name"] = sku, name[:255]
        barcode = raw.get("barcode", "")
        if len(barcode) > 32:
            p.fail("barcode", "a barcode has at most 32 characters")
        v["barcode"] = barcode
        v["unit_cost"], v["cost_currency"] = None, ""
        currency = raw.get("cost_currency", "").upper()
        if currency and not CURRENCY_RE.match(currency):
            p.fail("cost_currency", f'"{currency}" is not a currency code; use three letters '
                   "such as USD or EUR")
        text = raw.get("unit_cost", "")
        if text:
            try:
                v["unit_cost"] = parse_money(text, "unit_cost")
            except CellError as err:
                p.fail("unit_cost", str(err))
            if not currency:
                p.fail("cost_currency", "a unit cost needs a currency; fill in cost_currency")
        v["cost_currency"] = currency
        active = raw.get("active", "")
        try:
            v["active"] = parse_yes_no(active, "active") if active else True
        except CellError as err:
            p.fail("active", str(err))
        if sku:
            p.key = (sku,)

    def duplicate(self, parsed: ParsedRow, first: int) -> None:
        parsed.fail("sku", f"this internal SKU is already on line {first}; each item may "
                    "appear only once in a file")

    def load_existing(self, keys: list[tuple]) -> dict[tuple, object]:
        return {(item.sku,): item for item in _in_chunks(Item.objects, "sku", [k[0] for k in keys])}


def _in_chunks(queryset, field_name: str, values) -> Iterator:
    """``queryset.filter(<field_name>__in=values)``, a chunk of values per query (SQLite
    takes at most 999 parameters in one statement)."""
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield from queryset.filter(**{f"{field_name}__in": values[start:start + CHUNK]})
