"""The Amazon terms reference table: seeded by migration (idempotent, reversible, people's
edits kept), and covering every code the back office shows: the return reasons and
dispositions the sandbox emits and the returns rules name, the settlement transaction and
amount types of the sandbox's settlements and of the GL rules, the financial events' fee
types, and every exception reason code written anywhere in the code base."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from django.apps import apps as django_apps

from marketplaces import terms_data
from marketplaces.models import AmazonTerm, TermKind
from marketplaces.selectors import term_text, terms

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
APPS = ("amazonsync", "marketplaces", "catalog", "orders", "settlements", "returns")
SEED = importlib.import_module("marketplaces.migrations.0004_amazon_terms_seed")


@pytest.fixture(scope="module")
def world():
    from amazonsync.sandbox.world import World

    return World(1, orders=400, start="2026-11-01T00:00:00Z")


def _seeded(kind: str) -> set[str]:
    return {code for k, code, *_ in terms_data.TERMS if k == kind}


# ------------------------------------------------------------------ the table itself


def test_every_row_is_well_formed_and_unique():
    keys = [(kind, code) for kind, code, *_ in terms_data.TERMS]
    assert len(keys) == len(set(keys))
    kinds = set(TermKind.values)
    for kind, code, label, description in terms_data.TERMS:
        assert kind in kinds, code
        assert code and code == code.strip() and len(code) <= 128, code
        assert label and len(label) <= 128 and label[0].isupper(), code
        assert description.endswith((".", ")")), code
        assert "_" not in label, code  # words for people, not another code
    assert {kind for kind, *_ in terms_data.TERMS} == kinds


def test_the_migration_seeded_every_term():
    stored = set(AmazonTerm.objects.values_list("kind", "code"))
    assert {(kind, code) for kind, code, *_ in terms_data.TERMS} <= stored
    switcheroo = AmazonTerm.objects.get(kind=TermKind.RETURN_REASON, code="SWITCHEROO")
    assert switcheroo.label == "Different item returned"
    assert "Inspect" in switcheroo.description


def test_seeding_again_adds_only_what_is_missing_and_keeps_edits():
    AmazonTerm.objects.filter(kind=TermKind.DISPOSITION, code="SELLABLE").update(
        label="Good as new")
    AmazonTerm.objects.filter(kind=TermKind.RETURN_REASON, code="SWITCHEROO").delete()
    SEED.seed(django_apps, None)
    assert AmazonTerm.objects.get(kind="disposition", code="SELLABLE").label == "Good as new"
    assert AmazonTerm.objects.filter(kind="return_reason", code="SWITCHEROO").exists()
    assert terms_data.seed_terms(AmazonTerm) == 0
    assert AmazonTerm.objects.count() == len(terms_data.TERMS)


def test_unapplying_removes_the_seeded_terms_and_keeps_those_people_added():
    AmazonTerm.objects.create(kind=TermKind.FEE_TYPE, code="NewFeeAmazonInvented",
                              label="A new fee", description="Added by accounting.")
    SEED.unseed(django_apps, None)
    assert list(AmazonTerm.objects.values_list("code", flat=True)) == ["NewFeeAmazonInvented"]
    SEED.seed(django_apps, None)
    assert AmazonTerm.objects.count() == len(terms_data.TERMS) + 1


def test_term_text_reads_one_kind_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        reasons = terms(TermKind.RETURN_REASON)
    assert term_text(reasons, "AMZ-PG-BAD-DESC").startswith("Not as described on Amazon: ")
    assert term_text(reasons, "CR-DAMAGED_BY_CARRIER").startswith("Arrived damaged: ")
    assert term_text(reasons, "SOMETHING_NEW") == "SOMETHING_NEW"


# ------------------------------------------------------------------ returns


def test_every_return_reason_and_disposition_the_sandbox_and_rules_use_has_a_term(world):
    from amazonsync.sandbox import world as sandbox_world
    from returns import defaults

    reasons = set(sandbox_world._FBA_RETURN_REASONS) | set(sandbox_world._MFN_RETURN_REASONS)
    dispositions = set(sandbox_world._DISPOSITIONS) | set(defaults.DISPOSITIONS)
    for order in world.orders:
        for item in order.items:
            if item.ret is not None:
                reasons.add(item.ret.reason)
                dispositions.add(item.ret.disposition)
    reasons |= {reason for _, _, reason, *_ in defaults.DEFAULT_RULES if reason}
    dispositions |= {disposition for disposition, *_ in defaults.DEFAULT_RULES}
    assert len(reasons) >= 10 and len(dispositions) >= 5
    assert reasons - _seeded(TermKind.RETURN_REASON) == set()
    assert dispositions - _seeded(TermKind.DISPOSITION) == set()


# ------------------------------------------------------------------ settlements


def test_every_settlement_type_and_description_the_sandbox_and_gl_rules_use_has_a_term(world):
    from amazonsync.sandbox import reports, serializers, settlement_v1
    from settlements import chart

    transaction_types: set[str] = set()
    amounts: set[str] = set()  # amount types and amount descriptions
    fee_types: set[str] = set()
    for settlement in world.settlements(world.window_end):
        for row in reports.settlement_rows(settlement)[1:]:
            transaction_types.add(row["transaction-type"])
            amounts |= {row.get("amount-type") or "", row.get("amount-description") or ""}
        for row in settlement_v1.settlement_v1_rows(settlement)[1:]:
            transaction_types.add(row["transaction-type"])
            amounts |= {row.get(column) or "" for column in (
                "price-type", "item-related-fee-type", "promotion-type")}
    for posting in world.ledger:
        _, event = serializers.financial_event(posting)
        fee_types |= {fee["FeeType"] for fee in event.get("FeeList", ())}
        items = [*event.get("ShipmentItemList", ()), *event.get("ShipmentItemAdjustmentList",
                                                                ())]
        for item in items:
            for key in ("ItemFeeList", "ItemFeeAdjustmentList"):
                fee_types |= {fee["FeeType"] for fee in item.get(key, ())}
    for ttype, atype, description, _pattern, _account in chart.RULES:
        transaction_types.add(ttype)
        amounts |= {atype, description}
    from settlements.parsers.v1 import AMOUNT_COLUMNS

    amounts |= {amount_type for _, amount_type, _ in AMOUNT_COLUMNS}
    literal = {value for value in transaction_types if value and "*" not in value}
    assert {"Order", "Refund", "other-transaction", "WAREHOUSE_DAMAGE"} <= literal
    assert literal - _seeded(TermKind.TRANSACTION_TYPE) == set()
    literal = {value for value in amounts if value and "*" not in value}
    assert {"ItemPrice", "Principal", "Commission", "FBA Inventory Reimbursement"} <= literal
    assert literal - _seeded(TermKind.AMOUNT_TYPE) == set()
    assert {"FBAStorageFee", "Subscription", "Commission"} <= fee_types
    assert fee_types - _seeded(TermKind.FEE_TYPE) == set()


# ------------------------------------------------------------------ exception reasons


def _module_constants(trees: dict[Path, ast.Module]) -> dict[str, set[str]]:
    """NAME -> the strings assigned to it at module level anywhere (``UNMAPPED_SKU = ...``)."""
    out: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    out.setdefault(node.targets[0].id, set()).add(value.value)
    return out


def _strings(node: ast.AST, constants: dict[str, set[str]]) -> set[str]:
    """The string values an expression can have: literals, module constants, both branches
    of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name):
        return set(constants.get(node.id, ()))
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) | _strings(node.orelse, constants)
    return set()


def reason_codes_in_the_code_base() -> set[str]:
    """Every exception reason code the apps write: ``reason_code=`` arguments (and the
    ``reason=`` of the ``..._problem`` / ``..._exception`` helpers that pass one on) as
    literals or module constants, and the ``(reason_code, message)`` pairs that say why an
    account may not run."""
    files = [path for app in APPS for path in (ROOT / app).rglob("*.py")
             if "migrations" not in path.parts and "sandbox" not in path.parts
             and "spapi" not in path.parts]
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in files}
    constants = _module_constants(trees)
    codes: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                callee = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
                passes_on = "problem" in callee or "exception" in callee
                for keyword in node.keywords:
                    if keyword.arg == "reason_code" or (keyword.arg == "reason" and passes_on):
                        codes |= _strings(keyword.value, constants)
            elif isinstance(node, ast.FunctionDef) and node.name.endswith("problem"):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Return) and isinstance(inner.value, ast.Tuple) \
                            and len(inner.value.elts) == 2:
                        codes |= _strings(inner.value.elts[0], constants)
    return {code for code in codes if code.replace("_", "").isalnum() and code.islower()}


def test_the_collector_finds_the_reason_codes_of_every_app():
    codes = reason_codes_in_the_code_base()
    assert {"unmapped_sku", "waiting_on_mapping", "unknown_carrier", "missing_tracking_number",
            "unmapped_lines", "bad_report", "no_disposition_rule", "flow_failed",
            "lwa_secret_expired", "account_inactive", "encryption_key_changed",
            "reauthorization_required", "auth_failed", "not_participating"} <= codes
    assert len(codes) >= 30


def test_every_exception_reason_code_in_the_code_base_has_a_term():
    missing = reason_codes_in_the_code_base() - _seeded(TermKind.EXCEPTION_REASON)
    assert missing == set(), (
        f"add these reason codes to marketplaces/terms_data.py (EXCEPTION_REASONS): "
        f"{sorted(missing)}")
