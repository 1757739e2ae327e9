"""``manage.py import_report --type REPORT_TYPE FILE... [--account SELLER_ID]
[--marketplace CODE] [--encoding NAME] [--json]``

Imports Amazon report files from disk (plain or gzip) through the same code path as the
scheduled flows. Importers are registered per report type in ``<app>/importers.py``
(see ``amazonsync.reports.register_importer``). Without ``--account`` the only seller
account is used (an "Imported files" account is created when there is none); with several
accounts ``--account`` is required. ``--json`` prints one JSON document on stdout. Exit
status is non-zero when any file fails.

``--marketplace CODE`` says which marketplace the files come from (``GB``, ``uk``, ``JP``:
an unknown code is refused). The account must sell there (the "Imported files" account
learns it: ``marketplaces.services.account_for_import``), and the importers that take a
``marketplace`` get it: a file that does not name its marketplace on each row (returns)
has its rows filed there, its day/month order and legacy encoding taken from it.
``--encoding NAME`` says which encoding the files are in (``cp932``/``Windows-31J``,
``cp1252``, ``utf-8``), for a file refused because its bytes read more than one way; the
importers that decode files themselves get it (an unknown name is refused).

Each file is all or nothing: it is imported in one transaction (with the "Imported files"
account when that is created for it), so a file that is refused stores nothing and appears
under ``errors`` (naming the file, line and column), and the counts of the files that were
imported are exactly what was committed. Rows that are kept as exceptions instead are
counted under ``exceptions``. The database refusing a value is reported the same way (a
refused file, never a traceback), though the parsers' validation should never let it.
"""

from __future__ import annotations

import codecs
import inspect
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from amazonsync.flatfiles.reading import ReportFormatError
from amazonsync.reports import get_importer, registered_report_types
from marketplaces.selectors import marketplace_codes, marketplace_for_code
from marketplaces.services import AccountChoiceError, account_for_import


class Command(BaseCommand):
    help = "Import Amazon report files (plain or gzip) from disk."

    def add_arguments(self, parser):
        parser.add_argument("--type", dest="report_type", required=True,
                            help="report type as Amazon names it")
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--account", help="selling partner id of the seller account")
        parser.add_argument("--marketplace", metavar="CODE",
                            help="marketplace the files come from (country code: GB, DE, JP)")
        parser.add_argument("--encoding", metavar="NAME",
                            help="encoding the files are in (Windows-31J, cp1252, utf-8)")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, report_type, files, account, json: bool = False,
               marketplace: str | None = None, encoding: str | None = None, **options):
        try:
            importer = get_importer(report_type)
        except KeyError:
            raise CommandError(
                f"unknown report type {report_type!r}; supported: "
                f"{', '.join(registered_report_types())}"
            ) from None
        where = _marketplace(marketplace)
        extra = _importer_options(importer.import_file, marketplace=where,
                                  encoding=_encoding(encoding))
        if encoding is not None and "encoding" not in extra:
            raise CommandError(f"--encoding is not taken by the {report_type} importer "
                               "(its files are decoded by evidence only)")
        results: list[dict] = []
        errors: list[dict] = []
        interactive = not json and sys.stderr.isatty()
        for name in files:
            path = Path(name)
            bar = None
            progress = None
            if interactive:
                from tqdm import tqdm

                bar = tqdm(desc=path.name, unit=" lines", unit_scale=True, file=sys.stderr)
                progress = bar.update
            try:
                with transaction.atomic():
                    seller = _account(account, where)
                    result = importer.import_file(
                        account=seller, source=path, name=path.name, progress=progress,
                        **extra,
                    )
            except (ReportFormatError, DatabaseError) as exc:
                message = str(exc)
                if isinstance(exc, DatabaseError):
                    message = (f"the database refused the file ({type(exc).__name__}: "
                               f"{str(exc)[:300]}); nothing of it was stored")
                errors.append({"file": str(path), "error": message})
                if not json:
                    self.stderr.write(f"{path}: {message}")
                continue
            finally:
                if bar is not None:
                    bar.close()
            results.append(result)
            if not result.get("ok", True):
                errors.append({"file": str(path), "error": result.get("error", "failed")})
                if not json:
                    self.stderr.write(f"{path}: {result.get('error')}")
            elif not json:
                self.stdout.write(self._describe(path, result))
        document = importer.combine(results)
        if errors:
            document["errors"] = errors
        if json:
            self.stdout.write(_dumps(document))
        if errors:
            raise CommandError(f"{len(errors)} of {len(files)} file(s) failed", returncode=1)

    @staticmethod
    def _describe(path: Path, result: dict) -> str:
        s = result.get("settlement")
        if s is None:
            counts = ", ".join(f"{k} {v}" for k, v in result.items() if isinstance(v, int))
            return f"{path}: {counts}"
        verb = "imported" if s["created"] else "already imported, unchanged"
        journal = s["journal"]
        return (
            f"{path}: settlement {s['settlement_id']} {verb}: {s['lines']} lines, total "
            f"{s['total_amount']} {s['currency']}, drift {s['drift']}, unmapped "
            f"{s['unmapped_lines']}, journal {journal['status']} (debit "
            f"{journal['debit_total']}, credit {journal['credit_total']}, "
            f"{'balanced' if journal['balanced'] else 'NOT balanced'})"
        )


def _account(selling_partner_id: str | None, marketplace):
    try:
        return account_for_import(selling_partner_id=selling_partner_id,
                                  marketplace=marketplace)
    except AccountChoiceError as err:
        raise CommandError(str(err)) from None


def _marketplace(code: str | None):
    if code is None:
        return None
    found = marketplace_for_code(code)
    if found is None:
        raise CommandError(f"unknown marketplace {code!r}; known: {', '.join(marketplace_codes())}")
    return found


# Encodings known by a name Python's codecs do not have.
_ENCODING_NAMES = {"windows-31j": "cp932", "windows31j": "cp932"}


def _encoding(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return codecs.lookup(_ENCODING_NAMES.get(name.strip().lower(), name.strip())).name
    except LookupError:
        raise CommandError(f"unknown encoding {name!r} (e.g. Windows-31J, cp1252, utf-8)"
                           ) from None


def _importer_options(import_file, **options) -> dict:
    """The options given (not None) that this report type's importer takes: a report
    whose rows name their marketplace has no ``marketplace`` parameter."""
    parameters = inspect.signature(import_file).parameters
    return {name: value for name, value in options.items()
            if value is not None and name in parameters}


def _dumps(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=False, default=str)
