-- `on_waitlist` meant "automatic seat changes apply to this person": an organiser's
-- placement turns it off, the person's own new ranking on again. Triggers follow the
-- rename; function bodies are text and are written again below.
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
CREATE OR REPLACE FUNCTION registration_count_contributions(registration TEXT)
RETURNS TABLE (event_id TEXT, country TEXT, site_visit_id TEXT, registered BIGINT, assigned BIGINT, waitlisted BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT r.event_id, r.country, ''::text, 1::bigint, 0::bigint,
        CASE WHEN r.auto_seat
            AND NOT EXISTS (SELECT 1 FROM seat_assignments s WHERE s.registration_id = r.id)
            AND EXISTS (SELECT 1 FROM registration_preferences p WHERE p.registration_id = r.id)
        THEN 1::bigint ELSE 0::bigint END
    FROM registrations r WHERE r.id = registration AND r.status <> 'cancelled'
    UNION ALL
    SELECT r.event_id, r.country, s.site_visit_id, 0, 1, 0
    FROM registrations r JOIN seat_assignments s ON s.registration_id = r.id
    WHERE r.id = registration
    UNION ALL
    SELECT w.event_id, w.country, w.site_visit_id, 0, 0, 1
    FROM visit_waitlist w WHERE w.registration_id = registration
$$;

-- Freezing or unfreezing a roster moves its people out of or into the waitlists of
-- the visits they ranked higher: each of them is noted before the change (in
-- registration order, one lock order for all), and counted again at commit.
CREATE FUNCTION registration_counts_note_visit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM registration_counts_touch(s.registration_id)
    FROM (SELECT registration_id FROM seat_assignments WHERE site_visit_id = OLD.id
          ORDER BY registration_id) s;
    RETURN NEW;
END
$$;

CREATE TRIGGER registration_counts_visit_frozen
BEFORE UPDATE OF frozen ON site_visits
FOR EACH ROW WHEN (OLD.frozen IS DISTINCT FROM NEW.frozen)
EXECUTE FUNCTION registration_counts_note_visit();

-- The counters again, by the one definition.
DELETE FROM registration_counts;
INSERT INTO registration_counts (event_id, country, site_visit_id, shard, registered, assigned, waitlisted)
SELECT c.event_id, c.country, c.site_visit_id, registration_counts_shard(r.id),
    sum(c.registered), sum(c.assigned), sum(c.waitlisted)
FROM registrations r CROSS JOIN LATERAL registration_count_contributions(r.id) c
GROUP BY c.event_id, c.country, c.site_visit_id, registration_counts_shard(r.id);
