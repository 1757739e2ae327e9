"""The default chart of accounts and GL mapping rules, seeded by a data migration.

Covers what real V2 settlements contain: orders (principal, tax, shipping, shipping tax,
gift wrap, promotions, withheld marketplace-facilitator tax), fees (commission, FBA
fulfilment, variable closing, digital services), refunds and their fees, reimbursements,
storage and removal fees, subscription, advertising, reserves and transfers. Accounting
edits both in the admin (or imports them from CSV). There is deliberately no catch-all
rule for unknown transaction types: a new kind of line must be looked at by a person.
"""

from __future__ import annotations

# (code, name, type, role)
ACCOUNTS: list[tuple[str, str, str, str]] = [
    ("1010", "Bank clearing", "asset", "bank_clearing"),
    ("1200", "Amazon clearing", "asset", "amazon_clearing"),
    ("1210", "Amazon reserve held", "asset", ""),
    ("1220", "Amazon transfers in transit", "asset", ""),
    ("2200", "Sales tax / VAT payable", "liability", ""),
    ("2210", "Marketplace facilitator tax withheld", "liability", ""),
    ("4000", "Amazon product sales", "income", ""),
    ("4010", "Amazon shipping income", "income", ""),
    ("4020", "Amazon gift wrap income", "income", ""),
    ("4050", "Amazon promotions and discounts", "income", ""),
    ("4100", "Amazon refunds", "income", ""),
    ("4200", "Amazon reimbursements", "income", ""),
    ("4900", "Amazon other income and adjustments", "income", ""),
    ("5000", "Amazon selling fees (commission, closing fees)", "expense", ""),
    ("5010", "FBA fulfilment fees", "expense", ""),
    ("5020", "FBA storage fees", "expense", ""),
    ("5030", "FBA removal and disposal fees", "expense", ""),
    ("5040", "Amazon subscription fee", "expense", ""),
    ("5050", "Amazon advertising", "expense", ""),
    ("5060", "Amazon digital services fees", "expense", ""),
    ("5090", "Amazon other fees", "expense", ""),
]

# (transaction type, amount type, amount description, pattern, account code)
RULES: list[tuple[str, str, str, bool, str]] = [
    # orders
    ("Order", "ItemPrice", "Principal", False, "4000"),
    ("Order", "ItemPrice", "Tax", False, "2200"),
    ("Order", "ItemPrice", "Shipping", False, "4010"),
    ("Order", "ItemPrice", "ShippingTax", False, "2200"),
    ("Order", "ItemPrice", "GiftWrap", False, "4020"),
    ("Order", "ItemPrice", "GiftWrapTax", False, "2200"),
    ("Order", "ItemPrice", "*", True, "4000"),
    ("Order", "ItemWithheldTax", "*", True, "2210"),
    ("*", "*", "MarketplaceFacilitator*", True, "2210"),
    ("Order", "Promotion", "*", True, "4050"),
    ("Order", "ItemFees", "Commission", False, "5000"),
    ("Order", "ItemFees", "VariableClosingFee", False, "5000"),
    ("Order", "ItemFees", "FixedClosingFee", False, "5000"),
    ("Order", "ItemFees", "FBA*", True, "5010"),
    ("Order", "ItemFees", "DigitalServicesFee*", True, "5060"),
    ("Order", "ItemFees", "*", True, "5000"),
    ("Order", "ShipmentFees", "*", True, "5010"),
    ("Order", "other-transaction", "*", True, "4900"),
    # refunds and their fees
    ("Refund", "ItemPrice", "Principal", False, "4100"),
    ("Refund", "ItemPrice", "Shipping", False, "4100"),
    ("Refund", "ItemPrice", "GiftWrap", False, "4100"),
    ("Refund", "ItemPrice", "Tax", False, "2200"),
    ("Refund", "ItemPrice", "ShippingTax", False, "2200"),
    ("Refund", "ItemPrice", "GiftWrapTax", False, "2200"),
    ("Refund", "ItemPrice", "*", True, "4100"),
    ("Refund", "ItemWithheldTax", "*", True, "2210"),
    ("Refund", "Promotion", "*", True, "4050"),
    ("Refund", "ItemFees", "*", True, "5000"),
    ("Refund", "ItemFees", "DigitalServicesFee*", True, "5060"),
    ("Refund", "other-transaction", "*", True, "4100"),
    ("Chargeback Refund", "*", "*", True, "4100"),
    ("A-to-z Guarantee Claim", "*", "*", True, "4100"),
    ("SAFE-T Reimbursement", "*", "*", True, "4200"),
    # reimbursements and adjustments
    ("other-transaction", "*", "REVERSAL_REIMBURSEMENT", False, "4200"),
    ("other-transaction", "*", "WAREHOUSE_DAMAGE", False, "4200"),
    ("other-transaction", "*", "WAREHOUSE_LOST", False, "4200"),
    ("other-transaction", "*", "WAREHOUSE_LOST_MANUAL", False, "4200"),
    ("other-transaction", "*", "MISSING_FROM_INBOUND", False, "4200"),
    ("other-transaction", "*", "INCORRECT_FEES_ITEMS", False, "4200"),
    ("other-transaction", "*", "COMPENSATED_CLAWBACK", False, "4200"),
    ("other-transaction", "*", "FREE_REPLACEMENT_REFUND_ITEMS", False, "4200"),
    ("other-transaction", "*", "*Reimbursement*", True, "4200"),
    ("other-transaction", "FBA Inventory Reimbursement", "*", True, "4200"),
    ("Adjustment", "*", "*", True, "4900"),
    # storage, removal, disposal
    ("other-transaction", "*", "Storage Fee", False, "5020"),
    ("other-transaction", "*", "StorageFee", False, "5020"),
    ("other-transaction", "*", "FBA*Storage*", True, "5020"),
    ("other-transaction", "*", "*StorageRenewalBilling*", True, "5020"),
    ("other-transaction", "*", "*Removal*", True, "5030"),
    ("other-transaction", "*", "*Disposal*", True, "5030"),
    ("other-transaction", "*", "*Inbound*", True, "5010"),
    # subscription, advertising, other fees
    ("other-transaction", "*", "Subscription Fee", False, "5040"),
    ("ServiceFee", "*", "Subscription*", True, "5040"),
    ("ServiceFee", "*", "Cost of Advertising", False, "5050"),
    ("ServiceFee", "*", "*Advertising*", True, "5050"),
    ("other-transaction", "*", "Cost of Advertising", False, "5050"),
    ("Cost of Advertising", "*", "*", True, "5050"),
    ("ServiceFee", "*", "*", True, "5090"),
    ("other-transaction", "*", "DigitalServicesFee*", True, "5060"),
    ("other-transaction", "*", "*Fee*", True, "5090"),
    ("other-transaction", "*", "Shipping label purchase*", True, "5090"),
    ("other-transaction", "*", "*Chargeback*", True, "5090"),
    ("CouponRedemptionFee", "*", "*", True, "5090"),
    ("Liquidations", "*", "*", True, "4900"),
    ("Lightning Deal Fee", "*", "*", True, "5090"),
    # reserves
    ("Previous Reserve Amount Balance", "*", "*", True, "1210"),
    ("Current Reserve Amount", "*", "*", True, "1210"),
    ("other-transaction", "*", "Previous Reserve Amount Balance", False, "1210"),
    ("other-transaction", "*", "Current Reserve Amount", False, "1210"),
    # transfers
    ("other-transaction", "*", "Payable to Amazon", False, "1220"),
    ("other-transaction", "*", "Successful charge", False, "1220"),
    ("Transfer", "*", "*", True, "1220"),
    ("other-transaction", "*", "Balance Adjustment", False, "4900"),
]

# The V1 flat file's own transaction types and amount types (settlements.parsers.v1), seeded
# for existing books by migration 0008.
V1_RULES: list[tuple[str, str, str, bool, str]] = [
    ("Payable to Amazon", "*", "*", True, "1220"),
    ("Successful charge", "*", "*", True, "1220"),
    ("Micro Deposit", "*", "*", True, "1220"),
    ("Subscription Fee", "*", "*", True, "5040"),
    ("Storage Fee", "*", "*", True, "5020"),
    ("Inbound Transportation Fee", "*", "*", True, "5010"),
    ("WAREHOUSE_DAMAGE", "*", "*", True, "4200"),
    ("REVERSAL_REIMBURSEMENT", "*", "*", True, "4200"),
    ("Order", "OrderFees", "*", True, "5000"),
    ("Refund", "OrderFees", "*", True, "5000"),
    ("Refund", "ShipmentFees", "*", True, "5010"),
    ("*", "DirectPayment", "*", True, "4900"),
    # withheld tax written as an item-related fee; the other reimbursements, as types
    ("Order", "ItemFees", "MarketplaceFacilitator*", True, "2210"),
    ("Refund", "ItemFees", "MarketplaceFacilitator*", True, "2210"),
    ("WAREHOUSE_LOST", "*", "*", True, "4200"),
    ("WAREHOUSE_LOST_MANUAL", "*", "*", True, "4200"),
    ("MISSING_FROM_INBOUND", "*", "*", True, "4200"),
    ("CUSTOMER_RETURN", "*", "*", True, "4200"),
    ("INCORRECT_FEES_ITEMS", "*", "*", True, "4200"),
    ("COMPENSATED_CLAWBACK", "*", "*", True, "4200"),
    ("FREE_REPLACEMENT_REFUND_ITEMS", "*", "*", True, "4200"),
]
RULES += V1_RULES


def seed(GLAccount, GLMapping) -> None:
    """Create the default chart and rules; existing rows (edited by people) are kept."""
    by_code = {}
    for code, name, type_, role in ACCOUNTS:
        account, _ = GLAccount.objects.get_or_create(
            code=code, defaults={"name": name, "type": type_, "role": role}
        )
        by_code[code] = account
    for ttype, atype, desc, pattern, code in RULES:
        GLMapping.objects.get_or_create(
            transaction_type="" if ttype == "*" else ttype,
            amount_type="" if atype == "*" else atype,
            amount_description="" if desc == "*" else desc,
            pattern=pattern,
            marketplace=None,
            defaults={"gl_account": by_code[code]},
        )
