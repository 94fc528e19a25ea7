-- Who would move up is its own view, `visit_upgrades` (the upgrading branch of
-- `visit_waitlist`, which now reads it), so that a visit's upgrades are read from it
-- alone. PostgreSQL already left out the other branch (its `upgrading` is constant);
-- the view exists on both backends so that the store reads one schema.
CREATE VIEW visit_upgrades AS
SELECT p.site_visit_id, p.registration_id, r.event_id, r.country, r.created_at
FROM registration_preferences p
JOIN seat_assignments s ON s.registration_id = p.registration_id
JOIN registration_preferences h ON h.registration_id = p.registration_id AND h.site_visit_id = s.site_visit_id
JOIN registrations r ON r.id = p.registration_id
JOIN site_visits v ON v.id = s.site_visit_id
WHERE h.rank > p.rank AND r.status = 'confirmed' AND r.auto_seat AND NOT v.frozen
    AND NOT EXISTS (SELECT 1 FROM seat_offers o
        JOIN registration_preferences q ON q.registration_id = o.registration_id AND q.site_visit_id = o.site_visit_id
        WHERE o.registration_id = r.id AND q.rank <= p.rank);

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
SELECT site_visit_id, registration_id, event_id, country, created_at, TRUE
FROM visit_upgrades;
