-- Maintained attendee counts: what the counts exports (and the event view's waiting
-- numbers) read, instead of aggregating every registration at read time. Keep in step
-- with ../../postgres. One row per (event, country, visit): `site_visit_id` '' is the
-- country's own row (registered, waitlisted by country); a visit's row holds that
-- country's seats there (assigned) and its people waiting for it (waitlisted by visit).
CREATE TABLE registration_counts (
    event_id TEXT NOT NULL REFERENCES events (id),
    country TEXT NOT NULL,
    site_visit_id TEXT NOT NULL,
    registered BIGINT NOT NULL DEFAULT 0,
    assigned BIGINT NOT NULL DEFAULT 0,
    waitlisted BIGINT NOT NULL DEFAULT 0,
    -- PostgreSQL spreads each key over a few rows so that concurrent commits do not
    -- queue on one row lock; SQLite has a single writer and keeps shard 0.
    shard INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, country, site_visit_id, shard)
);

-- What one registration adds to the counters, from its rows: the definitions of
-- `domain::exports` (and of `store::registrations::waiting_counts`) per person.
CREATE VIEW registration_count_contributions AS
SELECT r.id AS registration_id, r.event_id, r.country, '' AS site_visit_id,
    1 AS registered, 0 AS assigned,
    CASE WHEN r.on_waitlist
        AND NOT EXISTS (SELECT 1 FROM seat_assignments s WHERE s.registration_id = r.id)
        AND EXISTS (SELECT 1 FROM registration_preferences p WHERE p.registration_id = r.id)
    THEN 1 ELSE 0 END AS waitlisted
FROM registrations r WHERE r.status <> 'cancelled'
UNION ALL
SELECT r.id, r.event_id, r.country, s.site_visit_id, 0, 1, 0
FROM registrations r JOIN seat_assignments s ON s.registration_id = r.id
UNION ALL
SELECT r.id, r.event_id, r.country, p.site_visit_id, 0, 0, 1
FROM registrations r
JOIN registration_preferences p ON p.registration_id = r.id
LEFT JOIN seat_assignments s ON s.registration_id = r.id
WHERE r.status = 'confirmed'
    AND ((s.registration_id IS NULL AND r.on_waitlist)
        OR EXISTS (SELECT 1 FROM registration_preferences h
            WHERE h.registration_id = r.id AND h.site_visit_id = s.site_visit_id AND h.rank > p.rank));

-- Every change to a registration, its ranking or its seat keeps the counters exact in
-- the same transaction: a BEFORE trigger takes the person's contribution away, the
-- AFTER trigger adds it back from the new rows. SQLite runs row triggers as each row
-- changes, so a statement changing several rows of one person still adds up.

CREATE TRIGGER registration_counts_registration_insert AFTER INSERT ON registrations FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_registration_update_before BEFORE UPDATE OF id, event_id, country, status, on_waitlist ON registrations FOR EACH ROW
WHEN OLD.id IS NOT NEW.id OR OLD.event_id IS NOT NEW.event_id OR OLD.country IS NOT NEW.country OR OLD.status IS NOT NEW.status OR OLD.on_waitlist IS NOT NEW.on_waitlist
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_registration_update_after AFTER UPDATE OF id, event_id, country, status, on_waitlist ON registrations FOR EACH ROW
WHEN OLD.id IS NOT NEW.id OR OLD.event_id IS NOT NEW.event_id OR OLD.country IS NOT NEW.country OR OLD.status IS NOT NEW.status OR OLD.on_waitlist IS NOT NEW.on_waitlist
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_registration_delete BEFORE DELETE ON registrations FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_seat_insert_before BEFORE INSERT ON seat_assignments FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_seat_insert_after AFTER INSERT ON seat_assignments FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_seat_update_before BEFORE UPDATE OF registration_id, site_visit_id ON seat_assignments FOR EACH ROW
WHEN OLD.registration_id IS NOT NEW.registration_id OR OLD.site_visit_id IS NOT NEW.site_visit_id
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

CREATE TRIGGER registration_counts_seat_update_after AFTER UPDATE OF registration_id, site_visit_id ON seat_assignments FOR EACH ROW
WHEN OLD.registration_id IS NOT NEW.registration_id OR OLD.site_visit_id IS NOT NEW.site_visit_id
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

CREATE TRIGGER registration_counts_seat_delete_before BEFORE DELETE ON seat_assignments FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_seat_delete_after AFTER DELETE ON seat_assignments FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_preference_insert_before BEFORE INSERT ON registration_preferences FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_preference_insert_after AFTER INSERT ON registration_preferences FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = NEW.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_preference_update_before BEFORE UPDATE OF registration_id, rank, site_visit_id ON registration_preferences FOR EACH ROW
WHEN OLD.registration_id IS NOT NEW.registration_id OR OLD.rank IS NOT NEW.rank OR OLD.site_visit_id IS NOT NEW.site_visit_id
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

CREATE TRIGGER registration_counts_preference_update_after AFTER UPDATE OF registration_id, rank, site_visit_id ON registration_preferences FOR EACH ROW
WHEN OLD.registration_id IS NOT NEW.registration_id OR OLD.rank IS NOT NEW.rank OR OLD.site_visit_id IS NOT NEW.site_visit_id
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

CREATE TRIGGER registration_counts_preference_delete_before BEFORE DELETE ON registration_preferences FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, -registered, -assigned, -waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_preference_delete_after AFTER DELETE ON registration_preferences FOR EACH ROW
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT event_id, country, site_visit_id, registered, assigned, waitlisted
    FROM registration_count_contributions WHERE registration_id = OLD.registration_id
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

-- The counters of the registrations already there.
INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
SELECT event_id, country, site_visit_id, sum(registered), sum(assigned), sum(waitlisted)
FROM registration_count_contributions WHERE true
GROUP BY event_id, country, site_visit_id;
