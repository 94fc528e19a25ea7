-- Maintained attendee counts: what the counts exports (and the event view's waiting
-- numbers) read, instead of aggregating every registration at read time. Keep in step
-- with ../../sqlite. One row per (event, country, visit): `site_visit_id` '' is the
-- country's own row (registered, waitlisted by country); a visit's row holds that
-- country's seats there (assigned) and its people waiting for it (waitlisted by visit).
CREATE TABLE registration_counts (
    event_id TEXT NOT NULL REFERENCES events (id),
    country TEXT NOT NULL,
    site_visit_id TEXT NOT NULL,
    registered BIGINT NOT NULL DEFAULT 0,
    assigned BIGINT NOT NULL DEFAULT 0,
    waitlisted BIGINT NOT NULL DEFAULT 0,
    -- Each registration counts in one of eight shards of its key (from its id), so that
    -- concurrent commits do not all queue on one row lock (say, everyone from the same
    -- country); readers sum the shards.
    shard INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, country, site_visit_id, shard)
);

-- The shard a registration counts in: always the same one for a registration.
CREATE FUNCTION registration_counts_shard(registration TEXT) RETURNS INTEGER
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtext(registration) & 7 $$;

-- What one registration adds to the counters, from its rows: the definitions of
-- `domain::exports` (and of `store::registrations::waiting_counts`) per person.
CREATE FUNCTION registration_count_contributions(registration TEXT)
RETURNS TABLE (event_id TEXT, country TEXT, site_visit_id TEXT, registered BIGINT, assigned BIGINT, waitlisted BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT r.event_id, r.country, ''::text, 1::bigint, 0::bigint,
        CASE WHEN r.on_waitlist
            AND NOT EXISTS (SELECT 1 FROM seat_assignments s WHERE s.registration_id = r.id)
            AND EXISTS (SELECT 1 FROM registration_preferences p WHERE p.registration_id = r.id)
        THEN 1::bigint ELSE 0::bigint END
    FROM registrations r WHERE r.id = registration AND r.status <> 'cancelled'
    UNION ALL
    SELECT r.event_id, r.country, s.site_visit_id, 0, 1, 0
    FROM registrations r JOIN seat_assignments s ON s.registration_id = r.id
    WHERE r.id = registration
    UNION ALL
    SELECT r.event_id, r.country, p.site_visit_id, 0, 0, 1
    FROM registrations r
    JOIN registration_preferences p ON p.registration_id = r.id
    LEFT JOIN seat_assignments s ON s.registration_id = r.id
    WHERE r.id = registration AND r.status = 'confirmed'
        AND ((s.registration_id IS NULL AND r.on_waitlist)
            OR EXISTS (SELECT 1 FROM registration_preferences h
                WHERE h.registration_id = r.id AND h.site_visit_id = s.site_visit_id AND h.rank > p.rank))
$$;

-- Counter changes of the open transactions, applied at commit. PostgreSQL runs AFTER
-- row triggers at the end of the statement, so the SQLite scheme (take the person's
-- contribution away before each row, add it back after) would not add up for a
-- statement changing several rows of one person; and counter rows are hot: locked in
-- the middle of a transaction they would be held for its whole length and taken in an
-- order that can deadlock with the visit and registration locks. Instead, the first
-- change to a person in a transaction locks their registration row and notes their
-- contribution as it was (negated) here, with a marker row (event_id NULL); at commit
-- a deferred trigger adds everyone's contribution as it is now and applies the sums to
-- `registration_counts` in key order. Rows never outlive their transaction, hence
-- UNLOGGED (no WAL).
CREATE UNLOGGED TABLE registration_count_changes (
    txid BIGINT NOT NULL,
    registration_id TEXT NOT NULL,
    event_id TEXT,
    country TEXT,
    site_visit_id TEXT,
    registered BIGINT NOT NULL DEFAULT 0,
    assigned BIGINT NOT NULL DEFAULT 0,
    waitlisted BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX registration_count_changes_tx ON registration_count_changes (txid, registration_id);

CREATE FUNCTION registration_counts_touch(registration TEXT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tx BIGINT := txid_current();
BEGIN
    IF EXISTS (SELECT 1 FROM registration_count_changes c
               WHERE c.txid = tx AND c.registration_id = registration AND c.event_id IS NULL) THEN
        RETURN;
    END IF;
    -- Another transaction changing this person waits until this one has committed its
    -- counters, so each reads the other's result as its starting point.
    PERFORM 1 FROM registrations r WHERE r.id = registration FOR NO KEY UPDATE;
    PERFORM set_config('rallypoint.counts_pending', 'yes', true);
    INSERT INTO registration_count_changes (txid, registration_id, event_id, country, site_visit_id,
        registered, assigned, waitlisted)
    SELECT tx, registration, c.event_id, c.country, c.site_visit_id, -c.registered, -c.assigned, -c.waitlisted
    FROM registration_count_contributions(registration) c;
    -- The marker last: its insert queues the deferred apply.
    INSERT INTO registration_count_changes (txid, registration_id) VALUES (tx, registration);
END
$$;

-- A registration being inserted counts for nothing yet: no lock to take, no old
-- contribution to note, only the marker.
CREATE FUNCTION registration_counts_touch_new(registration TEXT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tx BIGINT := txid_current();
BEGIN
    IF EXISTS (SELECT 1 FROM registration_count_changes c
               WHERE c.txid = tx AND c.registration_id = registration AND c.event_id IS NULL) THEN
        RETURN;
    END IF;
    PERFORM set_config('rallypoint.counts_pending', 'yes', true);
    INSERT INTO registration_count_changes (txid, registration_id) VALUES (tx, registration);
END
$$;

-- Applies this transaction's noted changes; run at commit by the deferred trigger, and
-- by readers of the counters inside a writing transaction. Nothing to do (and no
-- transaction id taken) when nothing is pending.
CREATE FUNCTION registration_counts_apply() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rallypoint.counts_pending', true) IS DISTINCT FROM 'yes' THEN
        RETURN;
    END IF;
    PERFORM set_config('rallypoint.counts_pending', 'no', true);
    WITH noted AS (
        DELETE FROM registration_count_changes WHERE txid = txid_current() RETURNING *
    ), delta AS (
        SELECT n.event_id, n.country, n.site_visit_id, registration_counts_shard(n.registration_id) AS shard,
            n.registered, n.assigned, n.waitlisted
        FROM noted n WHERE n.event_id IS NOT NULL
        UNION ALL
        SELECT c.event_id, c.country, c.site_visit_id, registration_counts_shard(n.registration_id),
            c.registered, c.assigned, c.waitlisted
        FROM noted n CROSS JOIN LATERAL registration_count_contributions(n.registration_id) c
        WHERE n.event_id IS NULL
    )
    INSERT INTO registration_counts AS t (event_id, country, site_visit_id, shard, registered, assigned, waitlisted)
    SELECT d.event_id, d.country, d.site_visit_id, d.shard, sum(d.registered), sum(d.assigned), sum(d.waitlisted)
    FROM delta d
    GROUP BY d.event_id, d.country, d.site_visit_id, d.shard
    HAVING sum(d.registered) <> 0 OR sum(d.assigned) <> 0 OR sum(d.waitlisted) <> 0
    -- One lock order for every transaction: no deadlock between counter rows.
    ORDER BY d.event_id, d.country, d.site_visit_id, d.shard
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = t.registered + EXCLUDED.registered,
        assigned = t.assigned + EXCLUDED.assigned,
        waitlisted = t.waitlisted + EXCLUDED.waitlisted;
END
$$;

CREATE FUNCTION registration_counts_apply_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM registration_counts_apply();
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER registration_counts_apply_at_commit
AFTER INSERT ON registration_count_changes
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.event_id IS NULL)
EXECUTE FUNCTION registration_counts_apply_trigger();

-- The person each changed row belongs to (both, should a row change hands).
CREATE FUNCTION registration_counts_note_registration() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM registration_counts_touch_new(NEW.id);
        RETURN NEW;
    END IF;
    PERFORM registration_counts_touch(OLD.id);
    IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN
        PERFORM registration_counts_touch(NEW.id);
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION registration_counts_note_child() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM registration_counts_touch(OLD.registration_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.registration_id <> OLD.registration_id) THEN
        PERFORM registration_counts_touch(NEW.registration_id);
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER registration_counts_registration_insert_delete
BEFORE INSERT OR DELETE ON registrations
FOR EACH ROW EXECUTE FUNCTION registration_counts_note_registration();
CREATE TRIGGER registration_counts_registration_update
BEFORE UPDATE OF id, event_id, country, status, on_waitlist ON registrations
FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.event_id IS DISTINCT FROM NEW.event_id
    OR OLD.country IS DISTINCT FROM NEW.country OR OLD.status IS DISTINCT FROM NEW.status
    OR OLD.on_waitlist IS DISTINCT FROM NEW.on_waitlist)
EXECUTE FUNCTION registration_counts_note_registration();

CREATE TRIGGER registration_counts_seat
BEFORE INSERT OR DELETE OR UPDATE OF registration_id, site_visit_id ON seat_assignments
FOR EACH ROW EXECUTE FUNCTION registration_counts_note_child();
CREATE TRIGGER registration_counts_preference
BEFORE INSERT OR DELETE OR UPDATE OF registration_id, rank, site_visit_id ON registration_preferences
FOR EACH ROW EXECUTE FUNCTION registration_counts_note_child();

-- The counters of the registrations already there.
INSERT INTO registration_counts (event_id, country, site_visit_id, shard, registered, assigned, waitlisted)
SELECT c.event_id, c.country, c.site_visit_id, registration_counts_shard(r.id),
    sum(c.registered), sum(c.assigned), sum(c.waitlisted)
FROM registrations r CROSS JOIN LATERAL registration_count_contributions(r.id) c
GROUP BY c.event_id, c.country, c.site_visit_id, registration_counts_shard(r.id);
