"""CSV/XLSX import and export of listings and items (django-import-export).

Ops staff edit mappings in a spreadsheet; these resources make that safe:

* every cell is checked up front, in one pass, with a plain-language reason (line number
  and column included) for anything wrong; if any row is wrong nothing is written;
* rows are keyed on Amazon's natural key (seller account, marketplace code, seller SKU) or
  the internal SKU, and a row that matches the database exactly is skipped, so importing the
  same file twice changes nothing;
* writes are bulk (with history rows) so a 50,000-row file imports in seconds;
* exported cells that a spreadsheet would run as a formula (= + - @ at the start) are
  neutralised with a leading apostrophe, which the import strips again.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from import_export import exceptions, fields, resources, widgets
from import_export.results import RowResult
from import_export.utils import atomic_if_using_transaction

from amazonsync.money import decimals
from marketplaces.models import Marketplace, SellerAccount
from marketplaces.reference import CODE_ALIASES

from . import bulkwrite
from .models import Channel, Item, Listing

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONDITIONS = (
    "new_new", "new_open_box", "new_oem", "refurbished_refurbished", "used_like_new",
    "used_very_good", "used_good", "used_acceptable", "collectible_like_new",
    "collectible_very_good", "collectible_good", "collectible_acceptable", "club_club",
)
CHANNEL_ALIASES = {"FBA": Channel.FBA, "AFN": Channel.FBA, "AMAZON": Channel.FBA,
                   "MFN": Channel.MFN, "FBM": Channel.MFN, "MERCHANT": Channel.MFN}
TRUE_WORDS = {"yes", "y", "true", "1", "on"}
FALSE_WORDS = {"no", "n", "false", "0", "off"}
SELLER_SKU_MAX = 40  # Amazon's limit
ASIN_RE = re.compile(r"^B0[0-9A-Z]{8}$")
ISBN10_RE = re.compile(r"^[0-9]{9}[0-9X]$")
FNSKU_RE = re.compile(r"^[0-9A-Z]{10}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
PREVIEW_CHANGES = 3  # changed columns spelled out per row in the preview


def neutralise(value):
    """A cell a spreadsheet would evaluate (=, +, -, @...) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def cell_text(raw) -> str:
    """A cell as stripped text; undoes our own formula neutralisation."""
    if raw.__class__ is str:  # CSV cells: the common case, kept short
        text = raw.strip()
    elif raw is None:
        return ""
    else:
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)  # XLSX numbers come back as floats
        text = str(raw).strip()
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        text = text[1:]
    return text


def normalise_header(header) -> str:
    return re.sub(r"[\s\-]+", "_", str(header or "").strip().lower())


class CellError(ValueError):
    """A cell that cannot be imported, with the reason in words an ops person understands."""


def asin_problem(value: str) -> str | None:
    """Why ``value`` is not an ASIN, or None. ASINs: 10 characters, B0... or an ISBN-10."""
    if ASIN_RE.match(value):
        return None
    if ISBN10_RE.match(value):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(value))
        if total % 11 == 0:
            return None
        return (f'"{value}" looks like an ISBN-10 but its last (check) digit is wrong; '
                "copy the ASIN from the product page again")
    if len(value) != 10:
        return (f'"{value}" is not an ASIN: an ASIN has exactly 10 characters '
                f"(this has {len(value)}), e.g. B07XJ8C8F5")
    return (f'"{value}" is not an ASIN: an ASIN starts with B0 followed by 8 letters or '
            "digits (e.g. B07XJ8C8F5), or is a 10-digit ISBN for books")


def parse_whole(text: str, label: str) -> int:
    try:
        value = int(text)
    except ValueError:
        try:
            as_decimal = Decimal(text)
        except InvalidOperation:
            as_decimal = None
        if as_decimal is not None and as_decimal.is_finite() and as_decimal == int(as_decimal):
            value = int(as_decimal)
        else:
            raise CellError(
                f'"{text}" is not a whole number; {label} must be digits only, e.g. 5'
            ) from None
    if value < 0:
        raise CellError(f"{label} cannot be negative (the file says {value}); use 0 or more")
    return value


def parse_money(text: str, label: str) -> Decimal:
    cleaned = text.replace(" ", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        hint = " (use a dot for decimals, not a comma)" if "," in text else ""
        raise CellError(f'"{text}" is not a number; {label} must be like 19.99 with no '
                        f"currency symbol{hint}")
    if value < 0:
        raise CellError(f"{label} cannot be negative (the file says {text})")
    return value


def parse_yes_no(text: str, label: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError(f'"{text}" is not yes or no; {label} must be yes or no')


@dataclass
class ParsedRow:
    """One data row after checking: cleaned values, or the reasons it cannot be imported."""

    number: int  # 1-based data row, as import-export counts
    values: dict = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    key: tuple | None = None
    blank: bool = False
    changes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.number + 1  # line 1 holds the column headings

    def fail(self, column: str, reason: str) -> None:
        self.errors.setdefault(column, []).append(f'Line {self.line}, column "{column}": {reason}.')


class _Widget(widgets.Widget):
    """Export-side rendering with formula neutralisation; import parsing is the resource's."""

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        return neutralise(str(value))


class StrictResource(resources.ModelResource):
    """Shared machinery: header checks, an up-front validation pass, bulk writes.

    ``import_data_inner`` is import-export's, reduced to what these resources need: every
    row was parsed and checked by ``before_import`` and the existing rows were loaded by
    key, so each row's result is worked out from the parsed values (no model instance for
    a new row, no query), and the writes happen once, at the end, only if every row is
    valid: new rows, their history rows and the changed rows as multi-row statements
    (``catalog.bulkwrite``), not through the ORM's per-field compiler.
    """

    #: (column, required) in file order
    COLUMNS: tuple[tuple[str, bool], ...] = ()
    TITLE = "rows"
    CHANGE_REASON = "CSV import"

    def __init__(self, **kwargs):
        super().__init__()
        self.user = kwargs.get("user")
        self.parsed: dict[int, ParsedRow] = {}
        self.existing: dict[tuple, object] = {}
        self.dry_run = False
        self.created: list[tuple[ParsedRow, int]] = []
        self.updated_instances: list = []
        self.newly_mapped: set[int] = set()

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

    # --- the validation pass -----------------------------------------------------------
    def before_import(self, dataset, **kwargs):
        self.dry_run = bool(kwargs.get("dry_run"))
        self.user = kwargs.get("user") or self.user
        problem = self.header_problem(dataset.headers)
        if problem:
            raise ValidationError(problem)
        dataset.headers = headers = [normalise_header(h) for h in dataset.headers]
        rows = [(number, {h: cell_text(v) for h, v in zip(headers, values, strict=False)})
                for number, values in enumerate(dataset, 1)]
        self.prepare_lookups([raw for _, raw in rows])
        first_line: dict[tuple, int] = {}
        for number, raw in rows:
            parsed = ParsedRow(number)
            self.parsed[number] = parsed
            if not any(raw.values()):
                parsed.blank = True
                continue
            self.parse_row(raw, parsed)
            if parsed.key is not None:
                if parsed.key in first_line:
                    self.duplicate(parsed, first_line[parsed.key])
                else:
                    first_line[parsed.key] = parsed.line
        self.existing = self.load_existing([p.key for p in self.parsed.values()
                                            if p.key is not None and not p.errors])

    def prepare_lookups(self, raws: list[dict]) -> None:
        """Load what rows refer to (accounts, items...) in a few queries."""

    def parse_row(self, raw: dict, parsed: ParsedRow) -> None:
        raise NotImplementedError

    def duplicate(self, parsed: ParsedRow, first: int) -> None:
        raise NotImplementedError

    def load_existing(self, keys: list[tuple]) -> dict[tuple, object]:
        raise NotImplementedError

    def fetch_ids(self, keys: list[tuple]) -> dict[tuple, int]:
        """Primary keys of the stored rows with these keys (after the new rows went in)."""
        raise NotImplementedError

    def required_text(self, raw: dict, parsed: ParsedRow, column: str, label: str) -> str:
        text = raw.get(column, "")
        if not text:
            parsed.fail(column, f"{label} is required but the cell is empty")
        return text

    # --- row results -------------------------------------------------------------------
    def import_data_inner(self, dataset, dry_run, raise_errors, using_transactions,
                          collect_failed_rows, **kwargs):
        self.created, self.updated_instances, self.newly_mapped = [], [], set()
        result = self.get_result_class()()
        result.diff_headers = self.get_diff_headers()
        result.total_rows = len(dataset)
        db_connection = self.get_db_connection_name()
        try:
            with atomic_if_using_transaction(using_transactions, using=db_connection):
                self.before_import(dataset, **kwargs)
            self._check_import_id_fields(dataset.headers)
        except Exception as e:  # noqa: BLE001 - reported on the result, as import-export does
            self.handle_import_error(result, e, raise_errors)
            return result
        if collect_failed_rows:
            result.add_dataset_headers(dataset.headers)

        creates: list[tuple[ParsedRow, dict, RowResult]] = []
        updates: list = []
        report_skipped = self._meta.report_skipped
        for number, parsed in self.parsed.items():
            row_result = self.row_result(parsed, creates, updates)
            result.increment_row_result_total(row_result)
            if row_result.validation_error is not None:
                row = OrderedDict(zip(dataset.headers, dataset[number - 1], strict=False))
                result.append_invalid_row(number, row, row_result.validation_error)
                if collect_failed_rows:
                    result.append_failed_row(row, row_result.validation_error)
                if raise_errors:
                    raise exceptions.ImportError(row_result.validation_error, number=number,
                                                 row=row)
            if row_result.import_type != RowResult.IMPORT_TYPE_SKIP or report_skipped:
                result.append_row_result(row_result)

        # All or nothing: a single invalid row and nothing is written.
        if not dry_run and not result.has_validation_errors() and (creates or updates):
            try:
                with atomic_if_using_transaction(using_transactions, using=db_connection):
                    self.write(creates, updates)
            except Exception as e:  # noqa: BLE001 - reported on the result
                self.handle_import_error(result, e, raise_errors)

        try:
            with atomic_if_using_transaction(using_transactions, using=db_connection):
                self.after_import(dataset, result, **kwargs)
        except Exception as e:  # noqa: BLE001 - reported on the result
            self.handle_import_error(result, e, raise_errors)
        return result

    def row_result(self, parsed: ParsedRow, creates: list, updates: list) -> RowResult:
        """The outcome of one parsed row: invalid, skipped (blank/unchanged), new, changed."""
        row_result = self.get_row_result_class()()
        if parsed.errors:
            # as import_row does with a ValidationError raised by import_instance
            row_result.import_type = RowResult.IMPORT_TYPE_INVALID
            row_result.validation_error = ValidationError(
                ValidationError(parsed.errors).update_error_dict({}))
            return row_result
        if parsed.blank:
            row_result.import_type = RowResult.IMPORT_TYPE_SKIP
        else:
            instance = self.existing.get(parsed.key)
            if instance is None:
                values = self.new_values(parsed)
                row_result.import_type = RowResult.IMPORT_TYPE_NEW
                row_result.object_repr = self.new_repr(values)
                creates.append((parsed, values, row_result))
            else:
                self.apply_changes(instance, parsed)
                if parsed.changes:
                    row_result.import_type = RowResult.IMPORT_TYPE_UPDATE
                    updates.append(instance)
                else:
                    row_result.import_type = RowResult.IMPORT_TYPE_SKIP
                row_result.add_instance_info(instance)
                row_result.instance = instance
        row_result.line = parsed.line
        row_result.changes = parsed.changes[:PREVIEW_CHANGES]
        row_result.more_changes = max(0, len(parsed.changes) - PREVIEW_CHANGES)
        return row_result

    def apply_changes(self, instance, parsed: ParsedRow) -> None:
        """Set the row's values on the stored instance, noting each change for the preview."""
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
                if attribute == "item" and current is None:
                    self.newly_mapped.add(instance.pk)

    fk_attributes: frozenset[str] = frozenset()

    def fk_shown(self, attribute: str, pk):
        """The old value of a foreign key, for the preview (no query per row)."""
        return pk

    # --- new rows ----------------------------------------------------------------------
    def _column_plan(self):
        """Once per import: the model's columns, their defaults and the history columns."""
        plan = getattr(self, "_plan", None)
        if plan is None:
            model = self._meta.model
            fields_ = [f for f in model._meta.concrete_fields if not f.primary_key]
            stamped = [f.attname for f in fields_
                       if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
            defaults = {f.attname: f.get_default() for f in fields_ if f.attname not in stamped}
            attnames = {f.name: f.attname for f in fields_}
            history = model.history.model if hasattr(model, "history") else None
            tracked = [f.attname for f in history.tracked_fields] if history else []
            plan = self._plan = (defaults, stamped, attnames, history, tracked)
        return plan

    def new_values(self, parsed: ParsedRow) -> dict:
        """Every column of a new row (attname -> value), defaults filled in."""
        defaults, _, attnames, _, _ = self._column_plan()
        values = dict(defaults)
        for attribute, value in parsed.values.items():
            if attribute in self.fk_attributes:
                values[attnames[attribute]] = value.pk if value is not None else None
            else:
                values[attribute] = value
        return values

    def new_repr(self, values: dict) -> str:
        """str() of the new row, as the admin log and the preview show it."""
        model = self._meta.model
        try:
            return str(model.__str__(SimpleNamespace(**values)))
        except AttributeError:  # __str__ follows a relation: build the instance
            return str(model(**values))

    # --- the writes --------------------------------------------------------------------
    def write(self, creates: list, updates: list) -> None:
        """New rows, changed rows and a history row for each, in a handful of statements."""
        model = self._meta.model
        _, stamped, _, history, tracked = self._column_plan()
        now = timezone.now()
        history_on = history is not None and getattr(settings, "SIMPLE_HISTORY_ENABLED", True)
        user_id = getattr(self.user, "pk", None)
        history_columns = [*tracked, "history_date", "history_change_reason", "history_type",
                           "history_user_id"]
        if creates:
            for _, values, _ in creates:
                for attname in stamped:
                    values[attname] = now
            columns = list(creates[0][1])
            bulkwrite.insert_rows(model, columns, ([v[c] for c in columns]
                                                   for _, v, _ in creates))
            ids = self.fetch_ids([parsed.key for parsed, _, _ in creates])
            for parsed, values, row_result in creates:
                values["id"] = row_result.object_id = ids[parsed.key]
                self.created.append((parsed, values["id"]))
            if history_on:
                tail = (now, self.CHANGE_REASON, "+", user_id)
                bulkwrite.insert_rows(history, history_columns,
                                      ((*[v[c] for c in tracked], *tail)
                                       for _, v, _ in creates))
        if updates:
            columns = [*self.bulk_update_fields(), "updated_at"]
            attnames = [model._meta.get_field(c).attname for c in columns]
            for instance in updates:
                instance.updated_at = now
            bulkwrite.update_rows(model, attnames, ([*(getattr(i, a) for a in attnames), i.pk]
                                                    for i in updates))
            self.updated_instances.extend(updates)
            if history_on:
                tail = (now, self.CHANGE_REASON, "~", user_id)
                bulkwrite.insert_rows(history, history_columns,
                                      ((*[getattr(i, c) for c in tracked], *tail)
                                       for i in updates))

    def bulk_update_fields(self) -> list[str]:
        return [name for name in self.import_attributes() if name not in self.key_attributes()]

    def import_attributes(self) -> list[str]:
        raise NotImplementedError

    def key_attributes(self) -> tuple[str, ...]:
        raise NotImplementedError

    # --- export ------------------------------------------------------------------------
    def export_field(self, field, instance, **kwargs):
        return neutralise(super().export_field(field, instance, **kwargs))


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


class ListingResource(StrictResource):
    """Listings (ASIN/SKU mappings), keyed on seller account + marketplace + seller SKU."""

    TITLE = "listings"
    COLUMNS = (
        ("seller_account", True), ("marketplace", True), ("seller_sku", True),
        ("channel", True), ("asin", False), ("fnsku", False), ("condition", False),
        ("parent_asin", False), ("product_type", False), ("item_sku", False),
        ("price", False), ("currency", False), ("push_enabled", False),
        ("buffer_quantity", False), ("max_quantity", False),
    )

    seller_account = fields.Field("account__selling_partner_id", "seller_account",
                                  widget=_Widget())
    marketplace = fields.Field("marketplace__code", "marketplace", widget=_Widget())
    seller_sku = fields.Field("seller_sku", "seller_sku", widget=_Widget())
    channel = fields.Field("channel", "channel", widget=_Widget())
    asin = fields.Field("asin", "asin", widget=_Widget())
    fnsku = fields.Field("fnsku", "fnsku", widget=_Widget())
    condition = fields.Field("condition", "condition", widget=_Widget())
    parent_asin = fields.Field("parent_asin", "parent_asin", widget=_Widget())
    product_type = fields.Field("product_type", "product_type", widget=_Widget())
    item_sku = fields.Field("item__sku", "item_sku", widget=_Widget())
    price = fields.Field("price", "price", widget=_Widget())
    currency = fields.Field("currency", "currency", widget=_Widget())
    push_enabled = fields.Field("push_enabled", "push_enabled", widget=_Widget())
    buffer_quantity = fields.Field("buffer_quantity", "buffer_quantity", widget=_Widget())
    max_quantity = fields.Field("max_quantity", "max_quantity", widget=_Widget())

    class Meta:
        model = Listing
        fields = ("seller_account", "marketplace", "seller_sku", "channel", "asin", "fnsku",
                  "condition", "parent_asin", "product_type", "item_sku", "price", "currency",
                  "push_enabled", "buffer_quantity", "max_quantity")
        import_id_fields = ("seller_account", "marketplace", "seller_sku")
        skip_unchanged = True
        report_skipped = True
        skip_diff = True
        clean_model_instances = False

    @classmethod
    def get_display_name(cls):
        return "Listings (ASIN/SKU mappings)"

    def get_export_order(self):
        return tuple(self.column_names())

    def get_queryset(self):
        return Listing.objects.select_related("account", "marketplace", "item")

    def import_attributes(self) -> list[str]:
        return ["account", "marketplace", "seller_sku", "channel", "asin", "fnsku", "condition",
                "parent_asin", "product_type", "item", "price", "currency", "push_enabled",
                "buffer_quantity", "max_quantity"]

    def key_attributes(self) -> tuple[str, ...]:
        return ("account", "marketplace", "seller_sku")

    def get_diff_headers(self):
        return self.column_names()

    fk_attributes = frozenset({"account", "marketplace", "item"})

    def fk_shown(self, attribute: str, pk):
        if pk is None:
            return None
        if attribute == "item":
            return self.old_item_skus.get(pk, pk)
        if attribute == "marketplace":
            return pk
        return next((a.selling_partner_id for a in self.accounts.values() if a.pk == pk), pk)

    # lookups
    def prepare_lookups(self, raws: list[dict]) -> None:
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
        skus = {raw.get("item_sku", "") for raw in raws} - {""}
        self.items: dict[str, Item] = {}
        sku_list = list(skus)
        for start in range(0, len(sku_list), 900):
            for item in Item.objects.filter(sku__in=sku_list[start:start + 900]):
                self.items[item.sku] = item

    def parse_row(self, raw: dict, p: ParsedRow) -> None:
        v = p.values
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
            v["account"] = account
            v["marketplace"] = marketplace
            v["seller_sku"] = sku

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
        pairs = {(account, mp) for account, mp, _ in keys}
        out: dict[tuple, object] = {}
        wanted = set(keys)
        for account_id, mp_id in pairs:
            qs = Listing.objects.filter(account_id=account_id, marketplace_id=mp_id)
            skus = [sku for a, m, sku in wanted if (a, m) == (account_id, mp_id)]
            if len(skus) <= 900:
                qs = qs.filter(seller_sku__in=skus)
            for listing in qs:
                key = (account_id, mp_id, listing.seller_sku)
                if key in wanted:
                    out[key] = listing
        item_ids = {x.item_id for x in out.values() if x.item_id is not None}
        self.old_item_skus = dict(Item.objects.filter(pk__in=item_ids).values_list("pk", "sku")
                                  ) if len(item_ids) < 20000 else dict(
            Item.objects.values_list("pk", "sku"))
        return out

    def fetch_ids(self, keys: list[tuple]) -> dict[tuple, int]:
        by_pair: dict[tuple, list[str]] = {}
        for account_id, mp_id, sku in keys:
            by_pair.setdefault((account_id, mp_id), []).append(sku)
        out: dict[tuple, int] = {}
        for (account_id, mp_id), skus in by_pair.items():
            qs = Listing.objects.filter(account_id=account_id, marketplace_id=mp_id)
            for start in range(0, len(skus), 900):
                for sku, pk in qs.filter(seller_sku__in=skus[start:start + 900]).values_list(
                        "seller_sku", "pk"):
                    out[(account_id, mp_id, sku)] = pk
        return out

    def after_import(self, dataset, result, **kwargs):
        """Listings the file mapped: resolve their merch exceptions and retry the waiting."""
        if self.dry_run or result.has_errors() or result.has_validation_errors():
            return
        mapped = [pk for parsed, pk in self.created if parsed.values.get("item") is not None]
        mapped += [obj.pk for obj in self.updated_instances if obj.pk in self.newly_mapped]
        if mapped:
            from .services import listings_mapping_applied

            transaction.on_commit(lambda: listings_mapping_applied(listing_ids=mapped))


class ItemResource(StrictResource):
    """Our items, keyed on the internal SKU."""

    TITLE = "items"
    COLUMNS = (("sku", True), ("name", True), ("barcode", False), ("unit_cost", False),
               ("cost_currency", False), ("active", False))

    sku = fields.Field("sku", "sku", widget=_Widget())
    name = fields.Field("name", "name", widget=_Widget())
    barcode = fields.Field("barcode", "barcode", widget=_Widget())
    unit_cost = fields.Field("unit_cost", "unit_cost", widget=_Widget())
    cost_currency = fields.Field("cost_currency", "cost_currency", widget=_Widget())
    active = fields.Field("active", "active", widget=_Widget())

    class Meta:
        model = Item
        fields = ("sku", "name", "barcode", "unit_cost", "cost_currency", "active")
        import_id_fields = ("sku",)
        skip_unchanged = True
        report_skipped = True
        skip_diff = True
        clean_model_instances = False

    @classmethod
    def get_display_name(cls):
        return "Items"

    def get_export_order(self):
        return tuple(self.column_names())

    def import_attributes(self) -> list[str]:
        return ["sku", "name", "barcode", "unit_cost", "cost_currency", "active"]

    def key_attributes(self) -> tuple[str, ...]:
        return ("sku",)

    def get_diff_headers(self):
        return self.column_names()

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
        skus = [k[0] for k in keys]
        out: dict[tuple, object] = {}
        for start in range(0, len(skus), 900):
            for item in Item.objects.filter(sku__in=skus[start:start + 900]):
                out[(item.sku,)] = item
        return out

    def fetch_ids(self, keys: list[tuple]) -> dict[tuple, int]:
        skus = [k[0] for k in keys]
        out: dict[tuple, int] = {}
        for start in range(0, len(skus), 900):
            for sku, pk in Item.objects.filter(sku__in=skus[start:start + 900]).values_list(
                    "sku", "pk"):
                out[(sku,)] = pk
        return out
