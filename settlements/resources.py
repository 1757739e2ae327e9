"""CSV/XLSX import and export of the GL chart and mapping rules (django-import-export).

Every file is checked whole before anything is written, and a refusal says which line and
column and why in plain words (never the database's constraint text): an account type or
role that does not exist, a true/false column holding anything but the documented
spellings (``true``/``false``, ``yes``/``no``, ``1``/``0``; empty means the default), a key
given twice in one file (both lines named), a GL role or mapping rule that would clash
with what is stored. Cells a spreadsheet would run as formulas are exported inert and come
back exactly (the admin's CSV and XLSX formats, ``amazonsync.spreadsheets``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from import_export import fields, resources, widgets

from marketplaces.models import Marketplace

from .models import GLAccount, GLMapping

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


def cell(value) -> str:
    """A cell as stripped text (the admin's formats already undid our own formula
    neutralisation, see ``amazonsync.spreadsheets``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # XLSX numbers come back as floats
    return str(value).strip()


def parse_true_false(text: str, default: bool) -> bool:
    word = text.strip().lower()
    if not word:
        return default
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(
        f'"{text}" is neither true nor false: write true or false (yes/no and 1/0 work '
        f"too; empty means {'true' if default else 'false'})"
    )


class TrueFalseWidget(widgets.BooleanWidget):
    """Only the documented spellings; anything else is refused, never read as False."""

    def __init__(self, default: bool, **kwargs):
        super().__init__(**kwargs)
        self.default = default

    def clean(self, value, row=None, **kwargs):
        return parse_true_false(cell(value), self.default)

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else ("true" if value else "false")


class TextWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        return cell(value)


class CheckedResource(resources.ModelResource):
    """Checks the whole file in ``before_import``; rows with problems are refused with
    their reasons (import-export then writes nothing). A database refusal that slips
    through is reported in words too."""

    #: column -> (label, max length) of the text columns
    TEXT: dict[str, tuple[str, int]] = {}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.problems: dict[int, dict[str, list[str]]] = {}

    def import_data(self, dataset, *args, **kwargs):
        # all or nothing, called from the admin or not
        kwargs["rollback_on_validation_errors"] = True
        return super().import_data(dataset, *args, **kwargs)

    def fail(self, number: int, column: str, reason: str) -> None:
        self.problems.setdefault(number, {}).setdefault(column, []).append(
            f'Line {number + 1}, column "{column}": {reason}.'
        )

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        self.problems = {}
        headers = [cell(h).lower() for h in dataset.headers or []]
        missing = [c for c in self.required_columns() if c not in headers]
        if missing:
            raise ValidationError(
                f"The file has no column {', '.join(missing)}. The first line must hold the "
                f"column headings: {', '.join(self.get_export_headers())}. Export the current "
                "data to get a file with the right columns."
            )
        dataset.headers = headers
        rows = [
            (number, {h: cell(v) for h, v in zip(headers, values, strict=False)})
            for number, values in enumerate(dataset, 1)
        ]
        for number, row in rows:
            for column, (label, limit) in self.TEXT.items():
                if len(row.get(column, "")) > limit:
                    self.fail(number, column, f"{label} is longer than {limit} characters "
                                              f"({len(row[column])}); shorten it")
        self.check_rows(rows)

    def required_columns(self) -> list[str]:
        return []

    def check_rows(self, rows: list[tuple[int, dict]]) -> None:
        raise NotImplementedError

    def duplicates(self, rows, key, column: str, what: str) -> None:
        """Refuse a key given on several lines, naming them all."""
        lines: dict[object, list[int]] = {}
        for number, row in rows:
            k = key(row)
            if k is not None:
                lines.setdefault(k, []).append(number)
        for numbers in lines.values():
            if len(numbers) > 1:
                named = ", ".join(str(n + 1) for n in numbers[:-1])
                both = f"lines {named} and {numbers[-1] + 1}"
                for number in numbers:
                    self.fail(number, column, f"{what} is given on {both}; a file may give "
                                              "it only once (keep one of the lines)")

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        problems = self.problems.get(kwargs.get("row_number"))
        if problems:
            raise ValidationError(problems)

    def save_instance(self, instance, is_create, row, **kwargs):
        try:
            with transaction.atomic():
                super().save_instance(instance, is_create, row, **kwargs)
        except IntegrityError as exc:
            raise ValidationError(
                f"The database refused this row: {self.integrity_words(exc)}"
            ) from None

    def integrity_words(self, exc: IntegrityError) -> str:
        return "it clashes with a stored row (a key or a rule that must be unique)"


class GLAccountResource(CheckedResource):
    active = fields.Field(attribute="active", column_name="active",
                          widget=TrueFalseWidget(default=True))
    code = fields.Field(attribute="code", column_name="code", widget=TextWidget())
    name = fields.Field(attribute="name", column_name="name", widget=TextWidget())
    type = fields.Field(attribute="type", column_name="type", widget=TextWidget())
    role = fields.Field(attribute="role", column_name="role", widget=TextWidget())

    TEXT = {"code": ("the code", 32), "name": ("the name", 128)}

    class Meta:
        model = GLAccount
        fields = ("code", "name", "type", "role", "active")
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = False

    def required_columns(self):
        return ["code", "name", "type"]

    def check_rows(self, rows):
        types = {v: v for v, _ in GLAccount.Type.choices}
        types.update({str(label).lower(): v for v, label in GLAccount.Type.choices})
        roles = {v for v, _ in GLAccount.Role.choices if v}
        stored = dict(GLAccount.objects.exclude(role="").values_list("role", "code"))
        in_file = {row.get("code", "") for _, row in rows}
        for number, row in rows:
            if not row.get("code"):
                self.fail(number, "code", "the code is empty; every GL account needs one")
            if not row.get("name") and "name" in row:
                self.fail(number, "name", "the name is empty")
            kind = row.get("type", "").lower()
            if kind not in types:
                self.fail(number, "type", f'"{row.get("type", "")}" is not a GL account type; '
                                          "use one of " + ", ".join(GLAccount.Type.values))
            else:
                row["type"] = types[kind]
            role = row.get("role", "").lower()
            if role and role not in roles:
                self.fail(number, "role", f'"{row["role"]}" is not a GL account role; leave '
                                          "it empty or use " + " or ".join(sorted(roles)))
            holder = stored.get(role)
            if role and holder and holder != row.get("code") and holder not in in_file:
                self.fail(number, "role", f'the role "{role}" already belongs to GL account '
                                          f"{holder}; only one account has it: take it off "
                                          f"{holder} first (in this file or in the chart)")
            try:
                parse_true_false(row.get("active", ""), True)
            except ValueError as exc:
                self.fail(number, "active", str(exc))
        self.duplicates(rows, lambda r: r.get("code") or None, "code",
                        "the same code")
        self.duplicates(rows, lambda r: r.get("role", "").lower() or None, "role",
                        "the same role")

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        kind = cell(row.get("type")).lower()
        for value, label in GLAccount.Type.choices:
            if kind in (value, str(label).lower()):
                row["type"] = value
        row["role"] = cell(row.get("role")).lower()

    def integrity_words(self, exc):
        if "role" in str(exc):
            return "another GL account already has this role; only one account may have it"
        return "another GL account already has this code"


class GLMappingResource(CheckedResource):
    gl_account = fields.Field(
        attribute="gl_account", column_name="gl_account",
        widget=widgets.ForeignKeyWidget(GLAccount, field="code"),
    )
    marketplace = fields.Field(
        attribute="marketplace", column_name="marketplace",
        widget=widgets.ForeignKeyWidget(Marketplace, field="code"),
    )
    pattern = fields.Field(attribute="pattern", column_name="pattern",
                           widget=TrueFalseWidget(default=False))
    transaction_type = fields.Field(attribute="transaction_type",
                                    column_name="transaction_type", widget=TextWidget())
    amount_type = fields.Field(attribute="amount_type", column_name="amount_type",
                               widget=TextWidget())
    amount_description = fields.Field(attribute="amount_description",
                                      column_name="amount_description", widget=TextWidget())
    memo = fields.Field(attribute="memo", column_name="memo", widget=TextWidget())

    TEXT = {"transaction_type": ("the transaction type", 128),
            "amount_type": ("the amount type", 128),
            "amount_description": ("the amount description", 255),
            "memo": ("the memo", 255)}

    class Meta:
        model = GLMapping
        fields = ("id", "transaction_type", "amount_type", "amount_description", "pattern",
                  "marketplace", "gl_account", "memo")
        skip_unchanged = True
        report_skipped = False

    def required_columns(self):
        return ["gl_account"]

    @staticmethod
    def rule_key(row) -> tuple:
        try:
            pattern = parse_true_false(row.get("pattern", ""), False)
        except ValueError:
            pattern = row.get("pattern", "")
        return (row.get("transaction_type", "").lower(), row.get("amount_type", "").lower(),
                row.get("amount_description", "").lower(), pattern,
                row.get("marketplace", "").upper())

    def check_rows(self, rows):
        codes = set(GLAccount.objects.values_list("code", flat=True))
        marketplaces = set(Marketplace.objects.values_list("code", flat=True))
        stored = {
            (m.transaction_type.lower(), m.amount_type.lower(), m.amount_description.lower(),
             m.pattern, (m.marketplace.code if m.marketplace else "").upper()): m
            for m in GLMapping.objects.select_related("gl_account", "marketplace")
        }
        ids_in_file = set()
        for number, row in rows:
            raw_id = row.get("id", "")
            if raw_id:
                if not raw_id.isdigit():
                    self.fail(number, "id", f'"{raw_id}" is not a rule id; leave it empty to '
                                            "add a new rule")
                else:
                    ids_in_file.add(int(raw_id))
        known_ids = set(
            GLMapping.objects.filter(pk__in=ids_in_file).values_list("pk", flat=True)
        )
        for number, row in rows:
            raw_id = row.get("id", "")
            if raw_id.isdigit() and int(raw_id) not in known_ids:
                self.fail(number, "id", f"no GL mapping rule has id {raw_id}; leave it empty "
                                        "to add a new rule")
            code = row.get("gl_account", "")
            if not code:
                self.fail(number, "gl_account", "the GL account code is empty")
            elif code not in codes:
                self.fail(number, "gl_account", f'no GL account has the code "{code}"; add it '
                                                "to the GL chart first")
            market = row.get("marketplace", "")
            if market and market not in marketplaces:
                self.fail(number, "marketplace", f'"{market}" is not a marketplace code (e.g. '
                                                 "US, DE, JP); leave it empty for every "
                                                 "marketplace")
            try:
                parse_true_false(row.get("pattern", ""), False)
            except ValueError as exc:
                self.fail(number, "pattern", str(exc))
            clash = stored.get(self.rule_key(row))
            if clash is not None and str(clash.pk) != raw_id and clash.pk not in ids_in_file:
                self.fail(number, "transaction_type", (
                    f"rule {clash.pk} already maps this transaction type, amount type and "
                    f"description to {clash.gl_account.code}; change that rule (give its id "
                    f"{clash.pk}) instead of adding a second one"))
        self.duplicates(rows, lambda r: r.get("id") or None, "id", "the same rule id")
        self.duplicates(rows, self.rule_key, "transaction_type",
                        "the same transaction type, amount type, description, pattern and "
                        "marketplace")

    def integrity_words(self, exc):
        return ("another rule already maps this transaction type, amount type and "
                "description; change that rule instead")
