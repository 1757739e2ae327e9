"""Multi-row inserts and updates for the catalog CSV import.

The ORM's ``bulk_create`` compiles every value of every row through the field machinery
(about 20 fields x 50,000 rows for a listings file), and on SQLite it cannot put more than
999 parameters in one statement, so it sends ~45 rows per INSERT. The import already holds
clean Python values for each row, so it writes them directly:

* PostgreSQL: ``COPY ... FROM STDIN`` (psycopg adapts each value);
* other databases (SQLite): one ``executemany`` of a single-row statement.

Values are Python values as the model holds them; datetimes are converted as the ORM would
(SQLite stores them as naive UTC text), the drivers take everything else as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connections, router


def _connection(model):
    return connections[router.db_for_write(model)]


def _adapted(connection, model, attnames: Sequence[str], rows: Iterable[Sequence]):
    """``rows`` with their datetime values converted for the database, as the ORM does."""
    meta = model._meta
    stamps = [i for i, a in enumerate(attnames)
              if meta.get_field(a).get_internal_type() == "DateTimeField"]
    if not stamps:
        yield from rows
        return
    adapt = connection.ops.adapt_datetimefield_value
    seen: dict[int, tuple] = {}  # most rows share one timestamp: convert it once
    for row in rows:
        row = list(row)
        for i in stamps:
            value = row[i]
            if value is not None:
                hit = seen.get(id(value))
                if hit is None or hit[0] is not value:
                    hit = seen[id(value)] = (value, adapt(value))
                row[i] = hit[1]
        yield row


def insert_rows(model, attnames: Sequence[str], rows: Iterable[Sequence]) -> None:
    """INSERT ``rows`` (value tuples in ``attnames`` order) into ``model``'s table."""
    connection = _connection(model)
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = ", ".join(qn(model._meta.get_field(a).column) for a in attnames)
    rows = _adapted(connection, model, attnames, rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
            return
        rows = list(rows)
        if rows:
            placeholders = ", ".join(["%s"] * len(attnames))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


def update_rows(model, attnames: Sequence[str], rows: Iterable[Sequence]) -> None:
    """UPDATE ``model`` rows: each row is the values in ``attnames`` order, then the pk."""
    rows = list(rows)
    if not rows:
        return
    connection = _connection(model)
    qn = connection.ops.quote_name
    meta = model._meta
    rows = list(_adapted(connection, model, [*attnames, meta.pk.attname], rows))
    sets = ", ".join(f"{qn(meta.get_field(a).column)} = %s" for a in attnames)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(meta.pk.column)} = %s", rows
        )
