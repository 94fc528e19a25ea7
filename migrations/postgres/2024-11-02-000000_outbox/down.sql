DROP TABLE service_keys;
DROP TABLE outbox_emails;
