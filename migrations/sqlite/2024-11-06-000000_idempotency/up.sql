-- Idempotency-Key: the first answer to a write, kept 24 hours, so that a client retrying
-- on a flaky network gets that answer again instead of a second write.
CREATE TABLE idempotency_keys (
    idempotency_key TEXT NOT NULL,
    -- Method and route of the request, and who sent it: a key is only reused in scope.
    scope TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (idempotency_key, scope)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
