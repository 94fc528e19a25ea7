-- Signed webhooks (issue 19, docs/webhooks.md). Keep in step with ../../postgres.

-- The endpoints admins register (docs/webhooks.md). The signing secret is never stored:
-- it is derived from the service's key and `secret_salt` (`ManageKey::webhook_secret`),
-- so a database dump alone does not give it when `security.secret_key` is set. A
-- rotation keeps the previous salt until `previous_secret_until`, and deliveries are
-- signed with both secrets until then. `event_id` NULL: every event. `personal_data`:
-- payloads name the person (names, email, organisation, country, language).
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    event_id TEXT REFERENCES events (id),
    personal_data BOOLEAN NOT NULL,
    secret_salt TEXT NOT NULL,
    previous_secret_salt TEXT,
    previous_secret_until TIMESTAMP,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- The event types an endpoint receives; '*' is every type, those added later included.
CREATE TABLE webhook_subscriptions (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
);

-- The webhook outbox and delivery log: one row per (endpoint, message), written in the
-- transaction of the change it reports (invariant 5 extended to webhooks). `id` is the
-- message's id (the `webhook-id` header), shared by every endpoint it goes to. `seq`
-- orders the messages as their changes committed: deliveries of one registration to one
-- endpoint go out in that order (a later one waits while an earlier one is pending or
-- being sent). Here `seq` is the table's rowid (SQLite gives INTEGER PRIMARY KEY the
-- 64-bit rowid, increasing with the single writer's commits); PostgreSQL has an
-- identity column. `payload` is the JSON body as sent; an erasure deletes the person's
-- undelivered rows and blanks the payloads of the others.
CREATE TABLE webhook_deliveries (
    seq INTEGER PRIMARY KEY NOT NULL,
    id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    event_id TEXT REFERENCES events (id),
    registration_id TEXT REFERENCES registrations (id),
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    response_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE UNIQUE INDEX webhook_deliveries_message ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, seq);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
-- One index for a registration's deliveries: the claim's check for an earlier one to the
-- same endpoint (registration, endpoint, seq), and an erasure's (registration).
CREATE INDEX webhook_deliveries_registration ON webhook_deliveries (registration_id, endpoint_id, seq);
