-- Offers with a claim window (docs/decisions.md, "Offers"). When an event turns them
-- on, a freed seat is held for the first person in line instead of given: the seat
-- counts against the visit's capacity (`site_visits.assigned`, rule 10) until the person
-- accepts it (seated), declines it or lets it expire (offered to the next person). Only
-- open offers are rows here; what became of one is in the audit log. A person holds at
-- most one. Keep in step with ../../sqlite.
ALTER TABLE events ADD COLUMN offer_window_hours INTEGER;
ALTER TABLE events ADD COLUMN offer_cutoff_hours INTEGER NOT NULL DEFAULT 12;

CREATE TABLE seat_offers (
    registration_id TEXT PRIMARY KEY NOT NULL REFERENCES registrations (id),
    event_id TEXT NOT NULL REFERENCES events (id),
    site_visit_id TEXT NOT NULL REFERENCES site_visits (id),
    offered_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX seat_offers_expiry ON seat_offers (expires_at);
CREATE INDEX seat_offers_visit ON seat_offers (site_visit_id);

-- The waitlists, as before, less what an open offer settles: a person offered a seat
-- waits no longer for that visit nor for the ones they ranked below it (they would not
-- take those); they still wait for the visits they ranked above it.
CREATE OR REPLACE VIEW visit_waitlist AS
SELECT p.site_visit_id, r.id AS registration_id, r.event_id, r.country, r.created_at,
    FALSE AS upgrading
FROM registration_preferences p
JOIN registrations r ON r.id = p.registration_id
WHERE r.status = 'confirmed' AND r.auto_seat
    AND NOT EXISTS (SELECT 1 FROM seat_assignments s WHERE s.registration_id = r.id)
    AND NOT EXISTS (SELECT 1 FROM seat_offers o
        JOIN registration_preferences q ON q.registration_id = o.registration_id AND q.site_visit_id = o.site_visit_id
        WHERE o.registration_id = r.id AND q.rank <= p.rank)
UNION ALL
SELECT p.site_visit_id, r.id, r.event_id, r.country, r.created_at, TRUE
FROM registration_preferences p
JOIN registrations r ON r.id = p.registration_id
JOIN seat_assignments s ON s.registration_id = r.id
JOIN registration_preferences h ON h.registration_id = r.id AND h.site_visit_id = s.site_visit_id
JOIN site_visits v ON v.id = s.site_visit_id
WHERE r.status = 'confirmed' AND r.auto_seat AND h.rank > p.rank AND NOT v.frozen
    AND NOT EXISTS (SELECT 1 FROM seat_offers o
        JOIN registration_preferences q ON q.registration_id = o.registration_id AND q.site_visit_id = o.site_visit_id
        WHERE o.registration_id = r.id AND q.rank <= p.rank);

-- By country, a person holding an offer and no seat is offered, not waitlisted (the
-- offers are counted from this table: there are only ever a few open).
CREATE OR REPLACE FUNCTION registration_count_contributions(registration TEXT)
RETURNS TABLE (event_id TEXT, country TEXT, site_visit_id TEXT, registered BIGINT, assigned BIGINT, waitlisted BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT r.event_id, r.country, ''::text, 1::bigint, 0::bigint,
        CASE WHEN r.auto_seat
            AND NOT EXISTS (SELECT 1 FROM seat_assignments s WHERE s.registration_id = r.id)
            AND NOT EXISTS (SELECT 1 FROM seat_offers o WHERE o.registration_id = r.id)
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

-- An offer made or settled changes what its person waits for: noted like their other
-- rows, counted again at commit.
CREATE TRIGGER registration_counts_offer
BEFORE INSERT OR DELETE ON seat_offers
FOR EACH ROW EXECUTE FUNCTION registration_counts_note_child();
