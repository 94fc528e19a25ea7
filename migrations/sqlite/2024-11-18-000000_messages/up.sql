-- Messages to a group (issue 19, docs/messages.md). Keep in step with ../../postgres.

-- A message as the organiser sent it: the audience as asked (JSON), the texts in each
-- language given ('' for one not given), how many it went to, and who sent it. Its
-- emails are outbox rows with `message_id` set, one per recipient, so each recipient's
-- status is their email's; an erasure removes the person's row there (unsent) or blanks
-- it (sent), and the message keeps its text.
CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id),
    audience TEXT NOT NULL,
    subject_en TEXT NOT NULL,
    subject_fr TEXT NOT NULL,
    body_en TEXT NOT NULL,
    body_fr TEXT NOT NULL,
    recipients INTEGER NOT NULL,
    sent_by TEXT NOT NULL,
    sent_by_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_event ON messages (event_id, created_at);

ALTER TABLE outbox_emails ADD COLUMN message_id TEXT;
CREATE INDEX outbox_emails_message ON outbox_emails (message_id, status)
    WHERE message_id IS NOT NULL;
