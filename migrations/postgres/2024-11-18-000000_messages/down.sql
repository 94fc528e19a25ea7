DROP INDEX outbox_emails_message;
ALTER TABLE outbox_emails DROP COLUMN message_id;
DROP TABLE messages;
