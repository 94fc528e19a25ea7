DROP VIEW visit_waitlist;
DROP VIEW visit_upgrades;
CREATE VIEW visit_waitlist AS
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
