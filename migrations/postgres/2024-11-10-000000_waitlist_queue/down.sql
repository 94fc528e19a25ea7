DROP TABLE waitlist_departures;
DROP TABLE waitlist_entries;
DROP TABLE waitlist_queues;
