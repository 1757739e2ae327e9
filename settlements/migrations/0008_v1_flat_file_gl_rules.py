"""GL mapping rules for the V1 flat-file settlement's transaction and amount types
(``Payable to Amazon``, ``Successful charge``, ``Micro Deposit``, ``Subscription Fee``,
``Storage Fee``, ``Inbound Transportation Fee``, ``WAREHOUSE_DAMAGE``,
``REVERSAL_REIMBURSEMENT`` and the other reimbursement types, order fees, direct payments,
marketplace facilitator tax written as an item-related fee; ``ServiceFee`` / ``Cost of
Advertising`` has its rule since 0002). Rules people already have are kept; removing the
migration removes none."""

from django.db import migrations

RULES = [
    ("Payable to Amazon", "", "", True, "1220"),
    ("Successful charge", "", "", True, "1220"),
    ("Micro Deposit", "", "", True, "1220"),
    ("Subscription Fee", "", "", True, "5040"),
    ("Storage Fee", "", "", True, "5020"),
    ("Inbound Transportation Fee", "", "", True, "5010"),
    ("WAREHOUSE_DAMAGE", "", "", True, "4200"),
    ("REVERSAL_REIMBURSEMENT", "", "", True, "4200"),
    ("Order", "OrderFees", "", True, "5000"),
    ("Refund", "OrderFees", "", True, "5000"),
    ("Refund", "ShipmentFees", "", True, "5010"),
    ("", "DirectPayment", "", True, "4900"),
    ("Order", "ItemFees", "MarketplaceFacilitator*", True, "2210"),
    ("Refund", "ItemFees", "MarketplaceFacilitator*", True, "2210"),
    ("WAREHOUSE_LOST", "", "", True, "4200"),
    ("WAREHOUSE_LOST_MANUAL", "", "", True, "4200"),
    ("MISSING_FROM_INBOUND", "", "", True, "4200"),
    ("CUSTOMER_RETURN", "", "", True, "4200"),
    ("INCORRECT_FEES_ITEMS", "", "", True, "4200"),
    ("COMPENSATED_CLAWBACK", "", "", True, "4200"),
    ("FREE_REPLACEMENT_REFUND_ITEMS", "", "", True, "4200"),
]


def seed_v1_rules(apps, schema_editor):
    GLAccount = apps.get_model("settlements", "GLAccount")
    GLMapping = apps.get_model("settlements", "GLMapping")
    accounts = {a.code: a for a in GLAccount.objects.filter(code__in={r[4] for r in RULES})}
    for ttype, atype, desc, pattern, code in RULES:
        account = accounts.get(code)
        if account is None:  # the chart was changed by people: leave it to them
            continue
        GLMapping.objects.get_or_create(
            transaction_type=ttype, amount_type=atype, amount_description=desc,
            pattern=pattern, marketplace=None, defaults={"gl_account": account},
        )


class Migration(migrations.Migration):
    dependencies = [("settlements", "0007_postgres_approval_guards")]
    operations = [migrations.RunPython(seed_v1_rules, migrations.RunPython.noop)]
