"""Reading Amazon flat files, cell by cell: ``syntax`` (how each marketplace writes amounts
and dates) and ``values`` (what this back office accepts: money, quantities, ids and codes,
currencies, dates, text; the one place each kind of value is checked). The reading itself
(decoding, lines, headers, limits) is ``amazonsync.reports``."""
