-- The waitlists as stored queues (docs/decisions.md, "The waitlist"). Who waits is
-- still defined once, by the `visit_waitlist` view; the queues store the order in which
-- the people holding no seat joined it, so that a place is given once, under the lock
-- that orders seat changes, and read back exactly. One queue per site visit (its id)
-- and one per event for the event-wide waitlist (the event's id). Keep in step with
-- ../../postgres.

-- A queue's places are 1, 2, 3… in the order people joined; `tail` is the last place
-- given, `length` how many still wait.
CREATE TABLE waitlist_queues (
    id TEXT PRIMARY KEY NOT NULL,
    tail BIGINT NOT NULL CHECK (tail >= 0),
    length BIGINT NOT NULL CHECK (length >= 0 AND length <= tail)
);

CREATE TABLE waitlist_entries (
    queue_id TEXT NOT NULL,
    place BIGINT NOT NULL CHECK (place >= 1),
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    PRIMARY KEY (queue_id, place),
    UNIQUE (registration_id, queue_id)
);

-- How many of the places in a range have left the queue: a Fenwick tree over places
-- (node n counts the departures from places n - (n & -n) + 1 … n), so that a person's
-- position (their place less the departures before it) is read from at most log2(tail)
-- rows, never by counting the queue. Rows only exist where someone left.
CREATE TABLE waitlist_departures (
    queue_id TEXT NOT NULL,
    node BIGINT NOT NULL CHECK (node >= 1),
    departed BIGINT NOT NULL CHECK (departed >= 0),
    PRIMARY KEY (queue_id, node)
);

-- The people waiting today, in registration order (the order the view has used).
INSERT INTO waitlist_entries (queue_id, place, registration_id)
SELECT site_visit_id,
    row_number() OVER (PARTITION BY site_visit_id ORDER BY created_at, registration_id),
    registration_id
FROM visit_waitlist WHERE NOT upgrading;

INSERT INTO waitlist_entries (queue_id, place, registration_id)
SELECT event_id, row_number() OVER (PARTITION BY event_id ORDER BY created_at, id), id
FROM registrations WHERE status = 'waitlisted';

INSERT INTO waitlist_queues (id, tail, length)
SELECT queue_id, count(*), count(*) FROM waitlist_entries GROUP BY queue_id;
