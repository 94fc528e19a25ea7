ALTER TABLE waitlist_queues DROP COLUMN head;
