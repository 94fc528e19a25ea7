-- The registration hot path inserts a registration and then its ranking and seat in
-- the same transaction. The first insert notes the person (a marker row); each child
-- row then called `registration_counts_note_child`, only for `registration_counts_touch`
-- to find the marker and return: one PL/pgSQL call per ranking row and per seat for
-- nothing. Now the newest registration inserted in the transaction is named in a
-- transaction-local setting, and the child triggers skip that person in their WHEN
-- clause, before any function call. The setting is cleared whenever the notes are
-- applied (the marker is gone then). SQLite's triggers are unchanged (no such call).

CREATE OR REPLACE FUNCTION registration_counts_touch_new(registration TEXT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tx BIGINT := txid_current();
BEGIN
    IF EXISTS (SELECT 1 FROM registration_count_changes c
               WHERE c.txid = tx AND c.registration_id = registration AND c.event_id IS NULL) THEN
        RETURN;
    END IF;
    PERFORM set_config('rallypoint.counts_pending', 'yes', true);
    PERFORM set_config('rallypoint.counts_new', registration, true);
    INSERT INTO registration_count_changes (txid, registration_id) VALUES (tx, registration);
END
$$;

CREATE OR REPLACE FUNCTION registration_counts_apply() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rallypoint.counts_pending', true) IS DISTINCT FROM 'yes' THEN
        RETURN;
    END IF;
    PERFORM set_config('rallypoint.counts_pending', 'no', true);
    -- The marker of the newest registration goes with the notes: its rows change
    -- through the trigger functions again from here on.
    PERFORM set_config('rallypoint.counts_new', '', true);
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

DROP TRIGGER registration_counts_seat ON seat_assignments;
DROP TRIGGER registration_counts_preference ON registration_preferences;

CREATE TRIGGER registration_counts_seat_insert
BEFORE INSERT ON seat_assignments
FOR EACH ROW WHEN (NEW.registration_id IS DISTINCT FROM current_setting('rallypoint.counts_new', true))
EXECUTE FUNCTION registration_counts_note_child();
CREATE TRIGGER registration_counts_seat_change
BEFORE DELETE OR UPDATE OF registration_id, site_visit_id ON seat_assignments
FOR EACH ROW EXECUTE FUNCTION registration_counts_note_child();

CREATE TRIGGER registration_counts_preference_insert
BEFORE INSERT ON registration_preferences
FOR EACH ROW WHEN (NEW.registration_id IS DISTINCT FROM current_setting('rallypoint.counts_new', true))
EXECUTE FUNCTION registration_counts_note_child();
CREATE TRIGGER registration_counts_preference_change
BEFORE DELETE OR UPDATE OF registration_id, rank, site_visit_id ON registration_preferences
FOR EACH ROW EXECUTE FUNCTION registration_counts_note_child();
