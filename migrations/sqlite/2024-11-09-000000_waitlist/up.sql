-- `on_waitlist` meant "automatic seat changes apply to this person": an organiser's
-- placement turns it off, the person's own new ranking on again. SQLite rewrites the
-- views and triggers that name the column.
ALTER TABLE registrations RENAME COLUMN on_waitlist TO auto_seat;

-- The visits' waitlists, defined once (docs/decisions.md, "The waitlist"). A
-- registration waits for a visit it ranked when it holds a place of the event
-- (`confirmed`: the event waitlist is a queue of its own), automatic seating applies to
-- it (`auto_seat`), and it holds no seat (`upgrading` false), or holds a seat it ranked
-- lower in a visit whose roster is not frozen (`upgrading` true: a frozen roster changes
-- only by an organiser's hand). A free seat goes to the unseated first, then to an
-- upgrade, each in registration order. Every reader uses this view: seat refills,
-- positions, rosters, the event view, the attendee export and the counters. One branch
-- per kind, so that a reader of one kind (`NOT upgrading`) reads only its branch.
CREATE VIEW visit_waitlist AS
SELECT p.site_visit_id, r.id AS registration_id, r.event_id, r.country, r.created_at,
    FALSE AS upgrading
FROM registration_preferences p
JOIN registrations r ON r.id = p.registration_id
WHERE r.status = 'confirmed' AND r.auto_seat
    AND NOT EXISTS (SELECT 1 FROM seat_assignments s WHERE s.registration_id = r.id)
UNION ALL
SELECT p.site_visit_id, r.id, r.event_id, r.country, r.created_at, TRUE
FROM registration_preferences p
JOIN registrations r ON r.id = p.registration_id
JOIN seat_assignments s ON s.registration_id = r.id
JOIN registration_preferences h ON h.registration_id = r.id AND h.site_visit_id = s.site_visit_id
JOIN site_visits v ON v.id = s.site_visit_id
WHERE r.status = 'confirmed' AND r.auto_seat AND h.rank > p.rank AND NOT v.frozen;

-- What one registration adds to the counters: by visit, the waitlists above.
DROP VIEW registration_count_contributions;
CREATE VIEW registration_count_contributions AS
SELECT r.id AS registration_id, r.event_id, r.country, '' AS site_visit_id,
    1 AS registered, 0 AS assigned,
    CASE WHEN r.auto_seat
        AND NOT EXISTS (SELECT 1 FROM seat_assignments s WHERE s.registration_id = r.id)
        AND EXISTS (SELECT 1 FROM registration_preferences p WHERE p.registration_id = r.id)
    THEN 1 ELSE 0 END AS waitlisted
FROM registrations r WHERE r.status <> 'cancelled'
UNION ALL
SELECT r.id, r.event_id, r.country, s.site_visit_id, 0, 1, 0
FROM registrations r JOIN seat_assignments s ON s.registration_id = r.id
UNION ALL
SELECT w.registration_id, w.event_id, w.country, w.site_visit_id, 0, 0, 1
FROM visit_waitlist w;

-- Freezing or unfreezing a roster moves its people out of or into the waitlists of
-- the visits they ranked higher: their contributions are taken away before and added
-- back after, like any other change.
CREATE TRIGGER registration_counts_visit_frozen_before BEFORE UPDATE OF frozen ON site_visits FOR EACH ROW
WHEN OLD.frozen IS NOT NEW.frozen
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT c.event_id, c.country, c.site_visit_id, -c.registered, -c.assigned, -c.waitlisted
    FROM registration_count_contributions c
    WHERE c.registration_id IN (SELECT s.registration_id FROM seat_assignments s WHERE s.site_visit_id = OLD.id)
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

CREATE TRIGGER registration_counts_visit_frozen_after AFTER UPDATE OF frozen ON site_visits FOR EACH ROW
WHEN OLD.frozen IS NOT NEW.frozen
BEGIN
    INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
    SELECT c.event_id, c.country, c.site_visit_id, c.registered, c.assigned, c.waitlisted
    FROM registration_count_contributions c
    WHERE c.registration_id IN (SELECT s.registration_id FROM seat_assignments s WHERE s.site_visit_id = NEW.id)
    ON CONFLICT (event_id, country, site_visit_id, shard) DO UPDATE SET
        registered = registered + excluded.registered,
        assigned = assigned + excluded.assigned,
        waitlisted = waitlisted + excluded.waitlisted;
END;

-- The counters again, by the one definition.
DELETE FROM registration_counts;
INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
SELECT event_id, country, site_visit_id, sum(registered), sum(assigned), sum(waitlisted)
FROM registration_count_contributions WHERE true
GROUP BY event_id, country, site_visit_id;
