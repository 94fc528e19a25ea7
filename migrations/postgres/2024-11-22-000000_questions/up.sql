-- Registration questions and their answers (issue 20, docs/questions.md). Keep in step
-- with ../../sqlite.

-- Until when participants may change their answers through the manage link; NULL: the
-- start of the event's first site visit, or the start of its first day without visits.
ALTER TABLE events ADD COLUMN answers_close_at TIMESTAMP;

-- A question of an event. `id` is the organiser's stable key (a slug such as `meal`),
-- unique within the event; it and `kind` never change. `column_order` is fixed at
-- creation (1, 2, … within the event): exports order their answer columns by it, so
-- moving or relabelling a question never shifts a column. `choices` is a JSON list
-- `[{"id", "en", "fr"}]`; `site_visits` a JSON list of site-visit ids (`[]`: asked of
-- everyone at registration). `min_value`/`max_value` bound a number, a date or the
-- number of choices ticked; `max_length` a text.
CREATE TABLE questions (
    event_id TEXT NOT NULL REFERENCES events (id),
    id TEXT NOT NULL,
    column_order INTEGER NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    required BOOLEAN NOT NULL,
    label_en TEXT NOT NULL,
    label_fr TEXT NOT NULL,
    help_en TEXT NOT NULL,
    help_fr TEXT NOT NULL,
    choices TEXT NOT NULL,
    site_visits TEXT NOT NULL,
    min_value TEXT,
    max_value TEXT,
    max_length INTEGER,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, id),
    UNIQUE (event_id, column_order)
);

-- A person's answer to a question: personal data, deleted with the person (erasure).
-- `value` is JSON: a string (text, choice id, country code, date), a number, a boolean,
-- or a list of choice ids.
CREATE TABLE answers (
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    question_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (registration_id, question_id),
    FOREIGN KEY (event_id, question_id) REFERENCES questions (event_id, id)
);
CREATE INDEX answers_question ON answers (event_id, question_id);
