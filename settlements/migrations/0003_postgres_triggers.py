"""PostgreSQL guards: approved/exported journal batches are immutable (UPDATE and DELETE
refused, except the approved -> exported step), their lines cannot change, and a batch that
is not a draft must balance per currency (deferred constraint trigger, checked at commit)."""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION settlements_journalbatch_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status IN ('approved', 'exported') THEN
            RAISE EXCEPTION 'journal batch % is % and cannot be deleted; reverse it instead',
                OLD.reference, OLD.status USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status IN ('approved', 'exported') THEN
        IF OLD.status = 'approved' AND NEW.status = 'exported'
           AND (to_jsonb(NEW) - 'status' - 'exported_at' - 'exported_by_id')
             = (to_jsonb(OLD) - 'status' - 'exported_at' - 'exported_by_id') THEN
            RETURN NEW;
        END IF;
        IF OLD.status = 'exported' AND NEW.status = 'exported'
           AND (to_jsonb(NEW) - 'exported_at' - 'exported_by_id')
             = (to_jsonb(OLD) - 'exported_at' - 'exported_by_id') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'journal batch % is % and cannot be changed; reverse it instead',
            OLD.reference, OLD.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlements_journalbatch_guard
    BEFORE UPDATE OR DELETE ON settlements_journalbatch
    FOR EACH ROW EXECUTE FUNCTION settlements_journalbatch_guard();

CREATE OR REPLACE FUNCTION settlements_journalline_guard() RETURNS trigger AS $$
DECLARE
    batch_status text;
    batch_ref text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT status, reference INTO batch_status, batch_ref
            FROM settlements_journalbatch WHERE id = OLD.batch_id;
        IF batch_status IN ('approved', 'exported') THEN
            RAISE EXCEPTION 'journal batch % is %: its lines cannot be changed', batch_ref,
                batch_status USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT status, reference INTO batch_status, batch_ref
            FROM settlements_journalbatch WHERE id = NEW.batch_id;
        IF batch_status IN ('approved', 'exported') THEN
            RAISE EXCEPTION 'journal batch % is %: lines cannot be added', batch_ref,
                batch_status USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlements_journalline_guard
    BEFORE INSERT OR UPDATE OR DELETE ON settlements_journalline
    FOR EACH ROW EXECUTE FUNCTION settlements_journalline_guard();

CREATE OR REPLACE FUNCTION settlements_journalbatch_balanced() RETURNS trigger AS $$
DECLARE
    bid bigint;
    batch_status text;
    batch_ref text;
    unbalanced record;
BEGIN
    IF TG_TABLE_NAME = 'settlements_journalbatch' THEN
        bid := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        bid := OLD.batch_id;
    ELSE
        bid := NEW.batch_id;
    END IF;
    SELECT status, reference INTO batch_status, batch_ref
        FROM settlements_journalbatch WHERE id = bid;
    IF batch_status IS NULL OR batch_status = 'draft' THEN
        RETURN NULL;
    END IF;
    SELECT currency, SUM(debit) AS debit, SUM(credit) AS credit INTO unbalanced
        FROM settlements_journalline WHERE batch_id = bid
        GROUP BY currency HAVING SUM(debit) <> SUM(credit) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal batch % (%) does not balance in %: debit % credit %',
            batch_ref, batch_status, unbalanced.currency, unbalanced.debit, unbalanced.credit
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER settlements_journalbatch_balanced
    AFTER INSERT OR UPDATE ON settlements_journalbatch
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION settlements_journalbatch_balanced();

CREATE CONSTRAINT TRIGGER settlements_journalline_balanced
    AFTER INSERT OR UPDATE OR DELETE ON settlements_journalline
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION settlements_journalbatch_balanced();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS settlements_journalline_balanced ON settlements_journalline;
DROP TRIGGER IF EXISTS settlements_journalbatch_balanced ON settlements_journalbatch;
DROP TRIGGER IF EXISTS settlements_journalline_guard ON settlements_journalline;
DROP TRIGGER IF EXISTS settlements_journalbatch_guard ON settlements_journalbatch;
DROP FUNCTION IF EXISTS settlements_journalbatch_balanced();
DROP FUNCTION IF EXISTS settlements_journalline_guard();
DROP FUNCTION IF EXISTS settlements_journalbatch_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("settlements", "0002_default_chart_and_groups")]
    operations = [migrations.RunPython(forward, backward)]
