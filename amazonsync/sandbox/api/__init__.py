"""The SP-API operations of the sandbox, one module per API family (see ``sandbox/app.py``).

Each module holds one class: its ``op_<operationName>`` methods answer the operations of
``amazonsync.spapi.operations.OPERATIONS``; ``Sandbox`` (``sandbox/app.py``) inherits them
all. ``api/reports.py`` serves the Reports API; the report files themselves are rendered by
``sandbox/reports.py``. Likewise ``api/listings.py`` serves Listings Items and the listing
rules it applies live in ``sandbox/listings.py``.
"""
