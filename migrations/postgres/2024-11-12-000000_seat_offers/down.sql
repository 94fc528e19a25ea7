DROP TRIGGER registration_counts_offer ON seat_offers;

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

CREATE OR REPLACE VIEW visit_waitlist AS
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

-- Held seats go back to their visits (the counters never counted them).
UPDATE site_visits SET assigned = assigned - (SELECT count(*) FROM seat_offers o WHERE o.site_visit_id = site_visits.id);
DROP TABLE seat_offers;
ALTER TABLE events DROP COLUMN offer_cutoff_hours;
ALTER TABLE events DROP COLUMN offer_window_hours;
