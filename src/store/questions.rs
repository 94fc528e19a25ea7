//! Queries on `questions` and `answers` (docs/questions.md).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{answers, questions, registrations, seat_assignments};
use crate::db::DbConnection;

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = questions)]
pub struct QuestionRow {
    pub event_id: String,
    pub id: String,
    pub column_order: i32,
    pub position: i32,
    pub kind: String,
    pub required: bool,
    pub label_en: String,
    pub label_fr: String,
    pub help_en: String,
    pub help_fr: String,
    /// JSON `[{"id", "en", "fr"}]`.
    pub choices: String,
    /// JSON list of site-visit ids; `[]`: asked of everyone at registration.
    pub site_visits: String,
    pub min_value: Option<String>,
    pub max_value: Option<String>,
    pub max_length: Option<i32>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What a change may touch: never the id, the kind or the column order.
#[derive(AsChangeset)]
#[diesel(table_name = questions, treat_none_as_null = true)]
pub struct QuestionChanges<'a> {
    pub position: i32,
    pub required: bool,
    pub label_en: &'a str,
    pub label_fr: &'a str,
    pub help_en: &'a str,
    pub help_fr: &'a str,
    pub choices: &'a str,
    pub site_visits: &'a str,
    pub min_value: Option<&'a str>,
    pub max_value: Option<&'a str>,
    pub max_length: Option<i32>,
    pub updated_at: NaiveDateTime,
}

/// The event's questions in the order they are asked.
pub fn list(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<QuestionRow>> {
    questions::table
        .filter(questions::event_id.eq(event_id))
        .order((questions::position, questions::column_order))
        .select(QuestionRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, event_id: &str, id: &str) -> QueryResult<Option<QuestionRow>> {
    questions::table
        .find((event_id, id))
        .select(QuestionRow::as_select())
        .first(conn)
        .optional()
}

/// The column order the event's next question takes: one past the highest ever given.
pub fn next_column_order(conn: &mut DbConnection, event_id: &str) -> QueryResult<i32> {
    let highest: Option<i32> = questions::table
        .filter(questions::event_id.eq(event_id))
        .select(diesel::dsl::max(questions::column_order))
        .first(conn)?;
    Ok(highest.unwrap_or(0) + 1)
}

pub fn insert(conn: &mut DbConnection, row: &QuestionRow) -> QueryResult<()> {
    diesel::insert_into(questions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn update(
    conn: &mut DbConnection,
    event_id: &str,
    id: &str,
    changes: &QuestionChanges<'_>,
) -> QueryResult<()> {
    diesel::update(questions::table.find((event_id, id)))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

pub fn delete(conn: &mut DbConnection, event_id: &str, id: &str) -> QueryResult<bool> {
    diesel::delete(questions::table.find((event_id, id)))
        .execute(conn)
        .map(|n| n > 0)
}

/// How many people answered the question.
pub fn count_answers(conn: &mut DbConnection, event_id: &str, id: &str) -> QueryResult<i64> {
    answers::table
        .filter(answers::event_id.eq(event_id))
        .filter(answers::question_id.eq(id))
        .count()
        .get_result(conn)
}

/// Which of `choice_ids` some answer to the question holds (a JSON string or a JSON
/// list member, matched on the quoted id).
pub fn choices_in_use(
    conn: &mut DbConnection,
    event_id: &str,
    id: &str,
    choice_ids: &[String],
) -> QueryResult<Vec<String>> {
    let values: Vec<String> = answers::table
        .filter(answers::event_id.eq(event_id))
        .filter(answers::question_id.eq(id))
        .select(answers::value)
        .load(conn)?;
    Ok(choice_ids
        .iter()
        .filter(|choice| {
            let quoted = serde_json::Value::String((*choice).clone()).to_string();
            values.iter().any(|v| v == &quoted || v.contains(&quoted))
        })
        .cloned()
        .collect())
}

/// A person's answers as `(question id, JSON value)`.
pub fn answers_of(conn: &mut DbConnection, registration_id: &str) -> QueryResult<Vec<(String, String)>> {
    answers::table
        .filter(answers::registration_id.eq(registration_id))
        .select((answers::question_id, answers::value))
        .load(conn)
}

/// Writes (or replaces) a person's answers, each a `(question id, JSON value)`.
pub fn save_answers(
    conn: &mut DbConnection,
    registration_id: &str,
    event_id: &str,
    values: &[(String, String)],
    now: NaiveDateTime,
) -> QueryResult<()> {
    for (question, value) in values {
        // No `ON CONFLICT` through the multi-backend: replace in two statements, under
        // the transaction's write lock.
        diesel::delete(answers::table.find((registration_id, question))).execute(conn)?;
        diesel::insert_into(answers::table)
            .values((
                answers::registration_id.eq(registration_id),
                answers::question_id.eq(question),
                answers::event_id.eq(event_id),
                answers::value.eq(value),
                answers::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes some of a person's answers (an optional question answered with nothing).
pub fn delete_answers(
    conn: &mut DbConnection,
    registration_id: &str,
    questions: &[String],
) -> QueryResult<()> {
    diesel::delete(
        answers::table
            .filter(answers::registration_id.eq(registration_id))
            .filter(answers::question_id.eq_any(questions)),
    )
    .execute(conn)
    .map(|_| ())
}

/// Erasure: every answer of the person.
pub fn forget_registration(conn: &mut DbConnection, registration_id: &str) -> QueryResult<usize> {
    diesel::delete(answers::table.filter(answers::registration_id.eq(registration_id))).execute(conn)
}

/// The answers of the registrations `ids` as `(registration id, question id, JSON
/// value)` (a page of the attendee export).
pub fn answers_of_registrations(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, String, String)>> {
    answers::table
        .filter(answers::registration_id.eq_any(ids))
        .select((answers::registration_id, answers::question_id, answers::value))
        .load(conn)
}

/// `(visit id, question id, JSON value)` of every seated person's answer, and `(visit
/// id, people seated)`.
pub type AnswersBySeat = (Vec<(String, String, String)>, Vec<(String, i64)>);

/// The answers of the people seated in each visit as `(visit id, question id, JSON
/// value)`, and how many are seated per visit.
pub fn answers_by_visit(conn: &mut DbConnection, event_id: &str) -> QueryResult<AnswersBySeat> {
    let answered = answers::table
        .inner_join(
            seat_assignments::table.on(seat_assignments::registration_id.eq(answers::registration_id)),
        )
        .inner_join(registrations::table.on(registrations::id.eq(answers::registration_id)))
        .filter(answers::event_id.eq(event_id))
        .filter(registrations::status.eq("confirmed"))
        .select((
            seat_assignments::site_visit_id,
            answers::question_id,
            answers::value,
        ))
        .load(conn)?;
    let seated = seat_assignments::table
        .inner_join(registrations::table)
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq("confirmed"))
        .group_by(seat_assignments::site_visit_id)
        .select((seat_assignments::site_visit_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok((answered, seated))
}
