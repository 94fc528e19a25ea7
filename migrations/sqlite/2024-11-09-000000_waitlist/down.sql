DROP TRIGGER registration_counts_visit_frozen_after;
DROP TRIGGER registration_counts_visit_frozen_before;
DROP VIEW registration_count_contributions;
DROP VIEW visit_waitlist;
ALTER TABLE registrations RENAME COLUMN auto_seat TO on_waitlist;
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
DELETE FROM registration_counts;
INSERT INTO registration_counts (event_id, country, site_visit_id, registered, assigned, waitlisted)
SELECT event_id, country, site_visit_id, sum(registered), sum(assigned), sum(waitlisted)
FROM registration_count_contributions WHERE true
GROUP BY event_id, country, site_visit_id;
