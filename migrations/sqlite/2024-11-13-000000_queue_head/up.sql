-- Where a queue's first live place can be (docs/decisions.md, "The waitlist"): no place
-- below `head` is still in the queue. The head of a queue is read from there, not by
-- scanning from place 1 past everyone who left (on PostgreSQL those stay dead index
-- entries until a vacuum: 10,000 offers expiring read ~1,000 buffers per head).
-- Keep in step with ../../postgres.
ALTER TABLE waitlist_queues ADD COLUMN head BIGINT NOT NULL DEFAULT 1;
UPDATE waitlist_queues SET head = COALESCE(
    (SELECT min(e.place) FROM waitlist_entries e WHERE e.queue_id = waitlist_queues.id), tail + 1);
