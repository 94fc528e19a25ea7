-- What organisers' searches match (`q` of the API list, the board's roster pages): first
-- name, last name, organisation and email, lower-case with accents taken off
-- (`domain::search::fold`, deunicode: "Łobocka" → "lobocka"), so that a search ignores
-- letter case and accents on both backends (SQLite has no Unicode folding). Written
-- with those fields; emptied on erasure. Keep in step with ../../postgres.
ALTER TABLE registrations ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

-- Existing rows as far as SQL can fold them (lower() only; ASCII only on SQLite):
-- start-up folds again every row still holding a character outside ASCII
-- (`domain::search::fold_stored_search_text`), which folded text never does.
UPDATE registrations
SET search_text = lower(first_name || ' ' || last_name || ' ' || organisation || ' ' || email)
WHERE erased_at IS NULL;
