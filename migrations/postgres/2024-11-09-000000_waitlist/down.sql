DROP TRIGGER registration_counts_visit_frozen ON site_visits;
DROP FUNCTION registration_counts_note_visit();
ALTER TABLE registrations RENAME COLUMN auto_seat TO on_waitlist;
CREATE OR REPLACE FUNCTION registration_count_contributions(registration TEXT)
RETURNS TABLE (event_id TEXT, country TEXT, site_visit_id TEXT, registered BIGINT, assigned BIGINT, waitlisted BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT r.event_id, r.country, ''::text, 1::bigint, 0::bigint,
        CASE WHEN r.on_waitlist
            AND NOT EXISTS (SELECT 1 FROM seat_assignments s WHERE s.registration_id = r.id)
            AND EXISTS (SELECT 1 FROM registration_preferences p WHERE p.registration_id = r.id)
        THEN 1::bigint ELSE 0::bigint END
    FROM registrations r WHERE r.id = registration AND r.status <> 'cancelled'
    UNION ALL
    SELECT r.event_id, r.country, s.site_visit_id, 0, 1, 0
    FROM registrations r JOIN seat_assignments s ON s.registration_id = r.id
    WHERE r.id = registration
    UNION ALL
    SELECT r.event_id, r.country, p.site_visit_id, 0, 0, 1
    FROM registrations r
    JOIN registration_preferences p ON p.registration_id = r.id
    LEFT JOIN seat_assignments s ON s.registration_id = r.id
    WHERE r.id = registration AND r.status = 'confirmed'
        AND ((s.registration_id IS NULL AND r.on_waitlist)
            OR EXISTS (SELECT 1 FROM registration_preferences h
                WHERE h.registration_id = r.id AND h.site_visit_id = s.site_visit_id AND h.rank > p.rank))
$$;
DROP VIEW visit_waitlist;
