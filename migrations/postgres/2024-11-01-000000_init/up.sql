-- rallypoint schema, PostgreSQL flavour. Keep in step with ../../sqlite: a test compares
-- the tables and columns both sets create. Ids are text (UUID v7), times are UTC TIMESTAMP.
CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    venue TEXT NOT NULL DEFAULT '',
    contact_email TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    assignment_mode TEXT NOT NULL CHECK (assignment_mode IN ('first_come', 'preferences')),
    registration_opens_at TIMESTAMP,
    registration_closes_at TIMESTAMP,
    max_preferences INTEGER NOT NULL DEFAULT 3 CHECK (max_preferences >= 1),
    -- Event-wide capacity (NULL: none). `confirmed` counts active confirmed registrations
    -- only while a capacity is set; the CHECK is the backstop of the conditional update.
    capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed >= 0 AND (capacity IS NULL OR confirmed <= capacity)),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (ends_on >= starts_on)
);

CREATE TABLE site_visits (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    meeting_point TEXT NOT NULL DEFAULT '',
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    -- Invariant 1: never more assigned than capacity, whatever the code above does.
    assigned INTEGER NOT NULL DEFAULT 0 CHECK (assigned >= 0 AND assigned <= capacity),
    frozen BOOLEAN NOT NULL DEFAULT FALSE,
    position INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (event_id, slug),
    CHECK (ends_at > starts_at)
);

CREATE TABLE registrations (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    organisation TEXT NOT NULL,
    country TEXT NOT NULL CHECK (length(country) = 2),
    job_title TEXT,
    dietary TEXT,
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    manage_token_hash TEXT NOT NULL UNIQUE,
    consent_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    cancelled_at TIMESTAMP
);
-- Invariant 2: one active registration per (event, lower-cased email).
CREATE UNIQUE INDEX registrations_active_email
    ON registrations (event_id, email_normalized) WHERE status <> 'cancelled';
CREATE INDEX registrations_event_order ON registrations (event_id, status, created_at, id);

CREATE TABLE registration_preferences (
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    rank INTEGER NOT NULL CHECK (rank >= 1),
    site_visit_id TEXT NOT NULL REFERENCES site_visits (id),
    PRIMARY KEY (registration_id, rank),
    UNIQUE (registration_id, site_visit_id)
);
CREATE INDEX registration_preferences_visit ON registration_preferences (site_visit_id, registration_id);

-- Invariant 3: the primary key makes a seat per registration per event (visits are parallel).
CREATE TABLE seat_assignments (
    registration_id TEXT PRIMARY KEY NOT NULL REFERENCES registrations (id),
    site_visit_id TEXT NOT NULL REFERENCES site_visits (id),
    assigned_at TIMESTAMP NOT NULL
);
CREATE INDEX seat_assignments_visit ON seat_assignments (site_visit_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'organiser')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
