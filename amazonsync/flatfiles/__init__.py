"""Reading Amazon flat files (imports no Django, no app, no model): ``reading`` (bytes to
lines: gzip, decoding, limits, binary files refused), ``rows`` (the header, rows addressed by
column name, ``typed``), ``syntax`` (how each marketplace writes amounts and dates) and
``values`` (what this back office accepts: money, quantities, ids and codes, currencies,
dates, text; the one place each kind of value is checked)."""
