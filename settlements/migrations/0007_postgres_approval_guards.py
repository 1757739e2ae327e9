"""PostgreSQL guards for approval (the services enforce the same rules on every database;
these make them hold for raw SQL and ORM bulk writes too):

* a journal batch is created as a draft: no INSERT of a ready, approved or exported batch;
* the status moves draft -> ready -> approved -> exported only: approval needs a ready
  batch and an active member of the Accounting group who neither prepared nor last
  changed it (four eyes; the CHECK constraints of 0006 say the same), export needs an
  approved batch;
* a journal batch is marked ready or approved only when it has no unmapped lines and its
  settlement reconciles: the Amazon clearing account nets to zero over the settlement's
  active batches (drift, from the summary total or from unmapped lines, is explained by
  adjustment lines) and every journal date of them falls in the settlement's period (start
  date - 1 day .. the later of end and deposit date + 1 day, for time zones);
* the lines of a settlement that has an approved or exported batch cannot be changed or
  deleted, nor can its figures from Amazon;
* a GL account used by an approved or exported batch cannot be deleted or get another
  code, so re-exporting an approved batch reproduces it exactly;
* TRUNCATE of the journal and settlement tables is refused (statement-level trigger).

The application role owns none of these tables (see README, "Database roles"), so it can
neither drop nor disable the triggers."""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION settlements_active_batches(sid bigint) RETURNS SETOF bigint AS $$
    SELECT b.id FROM settlements_journalbatch b
     WHERE b.settlement_id = sid AND b.kind = 'journal'
       AND NOT EXISTS (SELECT 1 FROM settlements_journalbatch r WHERE r.reverses_id = b.id);
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION settlements_journalbatch_rules() RETURNS trigger AS $$
DECLARE
    s record;
    first_day date;
    last_day date;
    bad record;
    drift numeric;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'draft' OR NEW.approved_by_id IS NOT NULL
           OR NEW.approved_at IS NOT NULL OR NEW.exported_at IS NOT NULL THEN
            RAISE EXCEPTION 'journal batch % cannot be created as %: a batch is created as a '
                'draft and approved by a second accountant', NEW.reference, NEW.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status NOT IN ('approved', 'exported') AND NEW.approved_by_id IS NOT NULL THEN
        RAISE EXCEPTION 'journal batch % is % and cannot have an approver', NEW.reference,
            NEW.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF NEW.status = 'exported' AND OLD.status <> 'approved' THEN
        RAISE EXCEPTION 'journal batch % is % and cannot be exported before it is approved',
            NEW.reference, OLD.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status = 'approved' THEN
        IF OLD.status <> 'ready' THEN
            RAISE EXCEPTION 'journal batch % is % and cannot be approved: it must be ready '
                'for approval first', NEW.reference, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.approved_by_id IS NULL
           OR NEW.approved_by_id = NEW.prepared_by_id
           OR NEW.approved_by_id = NEW.last_changed_by_id THEN
            RAISE EXCEPTION 'journal batch % cannot be approved by whoever prepared or last '
                'changed it (four eyes)', NEW.reference
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM auth_user u
              JOIN auth_user_groups ug ON ug.user_id = u.id
              JOIN auth_group g ON g.id = ug.group_id
             WHERE u.id = NEW.approved_by_id AND u.is_active AND g.name = 'Accounting'
        ) THEN
            RAISE EXCEPTION 'journal batch % can only be approved by an active member of the '
                'Accounting group', NEW.reference
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF NEW.status IN ('ready', 'approved') AND NEW.kind = 'journal' THEN
        SELECT * INTO s FROM settlements_settlement WHERE id = NEW.settlement_id;
        first_day := (s.start_date AT TIME ZONE 'UTC')::date - 1;
        last_day := (GREATEST(s.end_date, COALESCE(s.deposit_date, s.end_date))
                     AT TIME ZONE 'UTC')::date + 1;
        IF NEW.entry_date NOT BETWEEN first_day AND last_day THEN
            RAISE EXCEPTION 'journal batch % is dated %, outside the period of settlement % '
                '(% to %)', NEW.reference, NEW.entry_date, s.settlement_id, first_day, last_day
                USING ERRCODE = 'check_violation';
        END IF;
        SELECT l.entry_date, b.reference INTO bad
          FROM settlements_journalline l JOIN settlements_journalbatch b ON b.id = l.batch_id
         WHERE l.batch_id IN (SELECT settlements_active_batches(NEW.settlement_id))
           AND l.entry_date NOT BETWEEN first_day AND last_day
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'settlement % has journal lines dated % (batch %), outside its '
                'period (% to %)', s.settlement_id, bad.entry_date, bad.reference, first_day,
                last_day USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.unmapped_lines > 0 THEN
            RAISE EXCEPTION 'journal batch % has % unmapped lines and cannot be %',
                NEW.reference, NEW.unmapped_lines, NEW.status USING ERRCODE = 'check_violation';
        END IF;
        SELECT COALESCE(SUM(l.credit - l.debit), 0) INTO drift
          FROM settlements_journalline l
          JOIN settlements_glaccount g ON g.id = l.gl_account_id
         WHERE l.batch_id IN (SELECT settlements_active_batches(NEW.settlement_id))
           AND g.role = 'amazon_clearing';
        IF drift <> 0 THEN
            RAISE EXCEPTION 'settlement % has unexplained drift of % %: Amazon clearing does '
                'not net to zero, so journal batch % cannot be %', s.settlement_id, drift,
                s.currency, NEW.reference, NEW.status USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlements_journalbatch_rules
    BEFORE INSERT OR UPDATE ON settlements_journalbatch
    FOR EACH ROW EXECUTE FUNCTION settlements_journalbatch_rules();

CREATE OR REPLACE FUNCTION settlements_settlement_locked(sid bigint) RETURNS text AS $$
    SELECT b.reference FROM settlements_journalbatch b
     WHERE b.settlement_id = sid AND b.status IN ('approved', 'exported')
     ORDER BY b.id LIMIT 1;
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION settlements_settlementline_guard() RETURNS trigger AS $$
DECLARE
    ref text;
BEGIN
    ref := settlements_settlement_locked(OLD.settlement_id);
    IF ref IS NULL AND TG_OP = 'UPDATE' THEN
        ref := settlements_settlement_locked(NEW.settlement_id);
    END IF;
    IF ref IS NOT NULL THEN
        RAISE EXCEPTION 'settlement line % is behind approved journal batch %: it cannot be '
            'changed or deleted', OLD.line_number, ref
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlements_settlementline_guard
    BEFORE UPDATE OR DELETE ON settlements_settlementline
    FOR EACH ROW EXECUTE FUNCTION settlements_settlementline_guard();

CREATE OR REPLACE FUNCTION settlements_settlement_guard() RETURNS trigger AS $$
DECLARE
    ref text;
BEGIN
    ref := settlements_settlement_locked(OLD.id);
    IF ref IS NULL THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'settlement % has approved journal batch % and cannot be deleted',
            OLD.settlement_id, ref USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.account_id, NEW.settlement_id, NEW.start_date, NEW.end_date, NEW.deposit_date,
        NEW.total_amount, NEW.currency, NEW.line_count, NEW.sum_of_lines, NEW.fingerprint)
       IS DISTINCT FROM
       (OLD.account_id, OLD.settlement_id, OLD.start_date, OLD.end_date, OLD.deposit_date,
        OLD.total_amount, OLD.currency, OLD.line_count, OLD.sum_of_lines, OLD.fingerprint)
    THEN
        RAISE EXCEPTION 'settlement % has approved journal batch %: its figures from Amazon '
            'cannot be changed', OLD.settlement_id, ref
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlements_settlement_guard
    BEFORE UPDATE OR DELETE ON settlements_settlement
    FOR EACH ROW EXECUTE FUNCTION settlements_settlement_guard();

CREATE OR REPLACE FUNCTION settlements_glaccount_guard() RETURNS trigger AS $$
DECLARE
    ref text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.code = OLD.code THEN
        RETURN NEW;
    END IF;
    SELECT b.reference INTO ref
      FROM settlements_journalline l JOIN settlements_journalbatch b ON b.id = l.batch_id
     WHERE l.gl_account_id = OLD.id AND b.status IN ('approved', 'exported')
     ORDER BY b.id LIMIT 1;
    IF ref IS NOT NULL THEN
        RAISE EXCEPTION 'GL account % is used by approved journal batch %: it cannot be %',
            OLD.code, ref, CASE WHEN TG_OP = 'DELETE' THEN 'deleted' ELSE 'renamed' END
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlements_glaccount_guard
    BEFORE UPDATE OR DELETE ON settlements_glaccount
    FOR EACH ROW EXECUTE FUNCTION settlements_glaccount_guard();

CREATE OR REPLACE FUNCTION settlements_refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% cannot be truncated: approved books are never removed in bulk',
        TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlements_journalline_no_truncate BEFORE TRUNCATE ON settlements_journalline
    FOR EACH STATEMENT EXECUTE FUNCTION settlements_refuse_truncate();
CREATE TRIGGER settlements_journalbatch_no_truncate BEFORE TRUNCATE ON settlements_journalbatch
    FOR EACH STATEMENT EXECUTE FUNCTION settlements_refuse_truncate();
CREATE TRIGGER settlements_settlementline_no_truncate
    BEFORE TRUNCATE ON settlements_settlementline
    FOR EACH STATEMENT EXECUTE FUNCTION settlements_refuse_truncate();
CREATE TRIGGER settlements_settlement_no_truncate BEFORE TRUNCATE ON settlements_settlement
    FOR EACH STATEMENT EXECUTE FUNCTION settlements_refuse_truncate();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS settlements_settlement_no_truncate ON settlements_settlement;
DROP TRIGGER IF EXISTS settlements_settlementline_no_truncate ON settlements_settlementline;
DROP TRIGGER IF EXISTS settlements_journalbatch_no_truncate ON settlements_journalbatch;
DROP TRIGGER IF EXISTS settlements_journalline_no_truncate ON settlements_journalline;
DROP TRIGGER IF EXISTS settlements_glaccount_guard ON settlements_glaccount;
DROP TRIGGER IF EXISTS settlements_settlement_guard ON settlements_settlement;
DROP TRIGGER IF EXISTS settlements_settlementline_guard ON settlements_settlementline;
DROP TRIGGER IF EXISTS settlements_journalbatch_rules ON settlements_journalbatch;
DROP FUNCTION IF EXISTS settlements_refuse_truncate();
DROP FUNCTION IF EXISTS settlements_glaccount_guard();
DROP FUNCTION IF EXISTS settlements_settlement_guard();
DROP FUNCTION IF EXISTS settlements_settlementline_guard();
DROP FUNCTION IF EXISTS settlements_settlement_locked(bigint);
DROP FUNCTION IF EXISTS settlements_journalbatch_rules();
DROP FUNCTION IF EXISTS settlements_active_batches(bigint);
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
    dependencies = [("settlements", "0006_adjustments_and_four_eyes_checks")]
    operations = [migrations.RunPython(forward, backward)]
