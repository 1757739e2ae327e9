"""Admin forms: the import form checks the file itself before any row is read."""

from __future__ import annotations

import csv
import io
import zipfile

from django import forms
from unfold.contrib.import_export.forms import ImportForm
from unfold.widgets import UnfoldAdminTextInputWidget


class FileImportForm(ImportForm):
    """Refuses, in plain words, files that cannot be read at all: empty, not UTF-8, not a
    workbook, wrong columns, headings only. Row-level problems are the resource's."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self._formats = formats
        self._resources = resources
        self.fields["import_file"].error_messages["empty"] = (
            "The file is empty: there is nothing to import.")
        self.fields["import_file"].help_text = (
            "A .csv file saved as UTF-8 (in Excel: Save As › CSV UTF-8) or an .xlsx workbook. "
            "Nothing is changed until you confirm the preview."
        )

    def clean(self):
        data = super().clean()
        upload = data.get("import_file")
        fmt_index = data.get("format")
        if upload is None or fmt_index in (None, ""):
            return data
        try:
            fmt = self._formats[int(fmt_index)]()
        except (ValueError, IndexError):
            return data
        try:
            resource = self._resources[int(data.get("resource") or 0)]
        except (ValueError, IndexError):
            resource = self._resources[0]
        content = upload.read()
        upload.seek(0)
        problem = file_problem(content, binary=fmt.is_binary(), resource=resource)
        if problem:
            self.add_error("import_file", problem)
        return data


def file_problem(content: bytes, *, binary: bool, resource) -> str | None:
    """Why this upload cannot be imported at all, or None."""
    if not content.strip():
        return "The file is empty: there is nothing to import."
    if binary:
        return _workbook_problem(content, resource)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = content[: err.start].count(b"\n") + 1
        if content[:2] == b"PK":
            return ("This is an Excel workbook, not a CSV file: choose the xlsx format, or "
                    "save it as CSV UTF-8.")
        return (f"The file is not saved as UTF-8 text (line {line} has a character that "
                "cannot be read, e.g. an accented letter from an older Excel export). In "
                'Excel use File › Save As › "CSV UTF-8 (Comma delimited)", or upload the '
                ".xlsx workbook instead.")
    reader = csv.reader(io.StringIO(text))
    headers = next(reader, [])
    if not any(h.strip() for h in headers):
        return "The first line of the file is empty: it must hold the column headings."
    problem = resource.header_problem(headers)
    if problem:
        return problem
    if not any(any(cell.strip() for cell in row) for row in reader):
        return "The file has the column headings but no rows to import."
    return None


def _workbook_problem(content: bytes, resource) -> str | None:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return ("The file is not an Excel .xlsx workbook: choose the csv format for a CSV "
                "file, or save the spreadsheet as .xlsx.")
    try:
        rows = book.active.iter_rows(values_only=True)
        headers = next(rows, None)
        if headers is None or not any(h not in (None, "") for h in headers):
            return "The first sheet is empty: its first row must hold the column headings."
        headers = [h for h in headers if h not in (None, "")]
        problem = resource.header_problem(headers)
        if problem:
            return problem
        if not any(any(v not in (None, "") for v in row) for row in rows):
            return "The sheet has the column headings but no rows to import."
    finally:
        book.close()
    return None


class MapListingsForm(forms.Form):
    """Intermediate page of the "map to an item" action: the item by internal SKU."""

    item_sku = forms.CharField(label="Internal SKU of the item", max_length=64,
                               widget=UnfoldAdminTextInputWidget,
                               help_text="Our own product code, e.g. MUG-1.")

    def clean_item_sku(self):
        from .models import Item

        sku = self.cleaned_data["item_sku"].strip()
        item = Item.objects.filter(sku=sku).first()
        if item is None:
            raise forms.ValidationError(f'There is no item with internal SKU "{sku}".')
        self.item = item
        return sku
