"""Reading Amazon flat files (imports no Django, no app, no model): ``reading`` (bytes to
lines: gzip, limits, binary files refused), ``decoding`` (UTF-8 or the marketplace's legacy
encoding, decided by evidence), ``locale`` (which marketplace a file or row names: its date
order and legacy encoding), ``rows`` (the header, rows addressed by column name,
``typed``), ``delimited`` (tab, comma or semicolon, quoted values), ``syntax`` (how each
marketplace writes amounts and dates) and ``values`` (what this back office accepts: money,
quantities, ids and codes, currencies, dates, text; the one place each kind of value is
checked). Every refusal is an ``errors.ReportFormatError`` naming file, line and column."""
