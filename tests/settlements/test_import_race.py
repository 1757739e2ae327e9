"""Two imports of one settlement id with different content, started at the same moment
(``manage.py import_report --json`` in two threads, each with its own connection): they
take turns, the first stores its file, the second becomes a recorded finance conflict and
a JSON document saying so, never a traceback. Needs concurrent transactions: PostgreSQL."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from amazonsync.models import SyncException
from settlements.models import Settlement, SettlementLine
from settlements.services import importing
from tests.settlements.settlement_samples import DEFAULT_LINES, settlement_file

TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs concurrent transactions (PostgreSQL)"),
]


def test_concurrent_imports_of_one_settlement_serialise(account, tmp_path, monkeypatch):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(settlement_file())
    b.write_bytes(settlement_file([*DEFAULT_LINES[:-1], dict(DEFAULT_LINES[-1], amount="-45.00")]))

    store = importing._store_lines

    def slow_store(settlement, tally):
        time.sleep(0.5)  # keep the first import's transaction open while the other starts
        store(settlement, tally)

    monkeypatch.setattr(importing, "_store_lines", slow_store)
    barrier = threading.Barrier(2)
    outcomes: dict[str, dict] = {}

    def worker(path):
        out = io.StringIO()
        outcome = {}
        try:
            barrier.wait()
            call_command("import_report", "--type", TYPE, str(path), "--json", stdout=out,
                         stderr=io.StringIO())
            outcome["exit"] = 0
        except CommandError as exc:
            outcome["exit"] = exc.returncode
        except Exception as exc:  # noqa: BLE001 - what the old code did: a traceback
            outcome["crash"] = repr(exc)
        finally:
            connections.close_all()
        outcome["doc"] = json.loads(out.getvalue()) if out.getvalue() else None
        outcomes[path.name] = outcome

    threads = [threading.Thread(target=worker, args=(p,)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not [o["crash"] for o in outcomes.values() if "crash" in o]
    winners = [name for name, o in outcomes.items() if o["exit"] == 0]
    losers = [name for name, o in outcomes.items() if o["exit"] == 1]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    won = outcomes[winners[0]]["doc"]["settlements"][0]
    lost = outcomes[losers[0]]["doc"]["settlements"][0]
    assert won["created"] is True and "conflict" not in won
    assert lost["created"] is False and lost["conflict"] is True
    assert "already imported" in lost["error"] and "Nothing was replaced" in lost["error"]
    assert outcomes[losers[0]]["doc"]["errors"][0]["error"] == lost["error"]

    settlement = Settlement.objects.get()
    assert settlement.source_name == winners[0]
    assert SettlementLine.objects.filter(settlement=settlement).count() == len(DEFAULT_LINES)
    conflict = SyncException.objects.get(reason_code="reissued_conflict")
    assert conflict.owner_team == "finance" and conflict.status == "open"
    assert conflict.payload["file"] == losers[0]
    assert conflict.payload["stored_file"] == winners[0]


def test_adjacent_settlements_imported_at_once_are_checked_against_each_other(
        account, tmp_path, monkeypatch):
    """A settlement and the one right before it, imported at the same moment: whichever
    commits second sees the other, so the reserve carried across is checked (not left
    as a gap)."""
    from tests.settlements.test_series import series_file

    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_bytes(series_file(1))
    second.write_bytes(series_file(2))
    recheck = importing.settlement_successors_recheck

    def slow_commit(**kw):
        changed = recheck(**kw)
        time.sleep(0.5)  # both have looked for the other before either commits
        return changed

    monkeypatch.setattr(importing, "settlement_successors_recheck", slow_commit)
    barrier = threading.Barrier(2)
    crashes = []

    def worker(path):
        try:
            seller = type(account).objects.get(pk=account.pk)
            barrier.wait()
            importing.settlement_import(account=seller, source=path, name=path.name)
        except Exception as exc:  # noqa: BLE001
            crashes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(p,)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not crashes
    later = Settlement.objects.get(settlement_id="55500000002")
    assert later.reserve_drift == -5 and later.has_drift  # released 20.00 of 25.00 held
