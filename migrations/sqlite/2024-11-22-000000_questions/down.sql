DROP TABLE answers;
DROP TABLE questions;
ALTER TABLE events DROP COLUMN answers_close_at;
