-- The registration hot path writes a new registration, then its ranking rows and its
-- seat, in one unit of work. Each of those rows' triggers took the person's contribution
-- to the counters away and added it back from the rows: nine contribution updates for a
-- registration that ranks three visits and gets a seat. As on PostgreSQL (migration
-- 2024-11-08, where the notes are applied at commit), the new registration is now
-- counted once, when its unit of work is complete: its insert notes it here, the
-- triggers of its rows skip a noted person, and deleting the note
-- (`store::registrations::settle_counts`, at the end of the registration) adds its
-- contribution from the rows as they are then. A writer that inserts registrations
-- some other way (bulk SQL in a bench or a test) deletes the notes when it is done.
-- SQLite only: PostgreSQL's notes are `registration_count_changes`.
CREATE TABLE registration_counts_pending (
    registration_id TEXT PRIMARY KEY NOT NULL
);

DROP TRIGGER registration_counts_registration_insert;
CREATE TRIGGER registration_counts_registration_insert AFTER INSERT ON registrations FOR EACH ROW
BEGIN
    INSERT INTO registration_counts_pending (registration_id) VALUES (NEW.id);
END;

CREATE TRIGGER registration_counts_pending_settled AFTER DELETE ON registration_counts_pending FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

-- Every other trigger of the counters skips a person whose registration is noted.
DROP TRIGGER registration_counts_registration_update_before;
CREATE TRIGGER registration_counts_registration_update_before BEFORE UPDATE OF id, event_id, country, status, auto_seat ON registrations FOR EACH ROW
WHEN (OLD.id IS NOT NEW.id OR OLD.event_id IS NOT NEW.event_id OR OLD.country IS NOT NEW.country OR OLD.status IS NOT NEW.status OR OLD.auto_seat IS NOT NEW.auto_seat)
    AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.id) AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_registration_update_after;
CREATE TRIGGER registration_counts_registration_update_after AFTER UPDATE OF id, event_id, country, status, auto_seat ON registrations FOR EACH ROW
WHEN (OLD.id IS NOT NEW.id OR OLD.event_id IS NOT NEW.event_id OR OLD.country IS NOT NEW.country OR OLD.status IS NOT NEW.status OR OLD.auto_seat IS NOT NEW.auto_seat)
    AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.id) AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_registration_delete;
CREATE TRIGGER registration_counts_registration_delete BEFORE DELETE ON registrations FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_seat_insert_before;
CREATE TRIGGER registration_counts_seat_insert_before BEFORE INSERT ON seat_assignments FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_seat_insert_after;
CREATE TRIGGER registration_counts_seat_insert_after AFTER INSERT ON seat_assignments FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_seat_update_before;
CREATE TRIGGER registration_counts_seat_update_before BEFORE UPDATE OF registration_id, site_visit_id ON seat_assignments FOR EACH ROW
WHEN (OLD.registration_id IS NOT NEW.registration_id OR OLD.site_visit_id IS NOT NEW.site_visit_id)
    AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.registration_id) AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id AND NEW.registration_id IS NOT OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_seat_update_after;
CREATE TRIGGER registration_counts_seat_update_after AFTER UPDATE OF registration_id, site_visit_id ON seat_assignments FOR EACH ROW
WHEN (OLD.registration_id IS NOT NEW.registration_id OR OLD.site_visit_id IS NOT NEW.site_visit_id)
    AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.registration_id) AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id AND NEW.registration_id IS NOT OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_seat_delete_before;
CREATE TRIGGER registration_counts_seat_delete_before BEFORE DELETE ON seat_assignments FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_seat_delete_after;
CREATE TRIGGER registration_counts_seat_delete_after AFTER DELETE ON seat_assignments FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_preference_insert_before;
CREATE TRIGGER registration_counts_preference_insert_before BEFORE INSERT ON registration_preferences FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_preference_insert_after;
CREATE TRIGGER registration_counts_preference_insert_after AFTER INSERT ON registration_preferences FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_preference_update_before;
CREATE TRIGGER registration_counts_preference_update_before BEFORE UPDATE OF registration_id, rank, site_visit_id ON registration_preferences FOR EACH ROW
WHEN (OLD.registration_id IS NOT NEW.registration_id OR OLD.rank IS NOT NEW.rank OR OLD.site_visit_id IS NOT NEW.site_visit_id)
    AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.registration_id) AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id AND NEW.registration_id IS NOT OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_preference_update_after;
CREATE TRIGGER registration_counts_preference_update_after AFTER UPDATE OF registration_id, rank, site_visit_id ON registration_preferences FOR EACH ROW
WHEN (OLD.registration_id IS NOT NEW.registration_id OR OLD.rank IS NOT NEW.rank OR OLD.site_visit_id IS NOT NEW.site_visit_id)
    AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.registration_id) AND NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = NEW.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id AND NEW.registration_id IS NOT OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_preference_delete_before;
CREATE TRIGGER registration_counts_preference_delete_before BEFORE DELETE ON registration_preferences FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
DROP TRIGGER registration_counts_preference_delete_after;
CREATE TRIGGER registration_counts_preference_delete_after AFTER DELETE ON registration_preferences FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM registration_counts_pending p WHERE p.registration_id = OLD.registration_id)
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;
