//! The one path of a new registration through the edge, for the JSON API and the HTML
//! form alike: the event's ranking rules, parsing into the domain's input, the
//! registration itself (`domain::booking::register_participant`) as one idempotent
//! write, and the registrations counter of `/metrics`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::problem::ApiError;
use super::{AppState, EventRules};
use crate::db::DbError;
use crate::domain::booking::{self, Registered};
use crate::domain::event_rules::find_event_with_visits;
use crate::domain::idempotency::{self, Answer, IdempotencyKey};
use crate::domain::registration::NewRegistration;
use crate::domain::DomainError;
use crate::i18n::Lang;

/// What a ranking may contain for this event: its visit slugs and the most ranks.
/// Cached for a moment: parsing needs them on every registration, and they change only
/// when an admin adds a visit. The write transaction checks every slug again, so a stale
/// entry can only turn a would-be 422 into the same 422 one step later.
pub async fn preference_rules(state: &AppState, event_slug: String) -> Result<Arc<EventRules>, ApiError> {
    if let Some(rules) = state.rules.get(&event_slug) {
        return Ok(rules);
    }
    let slug = event_slug.clone();
    let rules = state
        .db
        .read(move |conn| {
            let (event, visits) = find_event_with_visits(conn, &slug)?;
            Ok::<_, DomainError>(EventRules {
                visit_slugs: visits.into_iter().map(|v| v.slug).collect(),
                max_preferences: event.max_preferences.max(1) as usize,
                questions: crate::domain::questions::list(conn, &event.id)?,
            })
        })
        .await?;
    Ok(state.rules.put(event_slug, rules))
}

/// Registers from a body (JSON or form, as one object) in `lang`; with a `key`, a retry
/// gets the first answer again (the registration as its holder sees it, status 201).
///
/// An address that already has an active registration for the event gets the same
/// answer (invariant 13, `domain::duplicates`). Registered concurrently between the
/// look-up and the insert (PostgreSQL), the unit of work is refused by the unique index
/// and run again, when the look-up finds it.
pub async fn register(
    state: &AppState,
    event_slug: String,
    body: Map<String, Value>,
    key: Option<IdempotencyKey>,
    lang: Lang,
) -> Result<Answer<Registered>, ApiError> {
    /// Runs of the unit of work: each that finds the address free again (cancelled
    /// meanwhile) registers, and may meet a new concurrent registration in turn.
    const ATTEMPTS: usize = 3;
    let rules = preference_rules(state, event_slug.clone()).await?;
    let input = NewRegistration::parse_with_questions(body, &rules.as_preference_rules(), &rules.questions)?
        .in_language(lang);
    let mut answer = Err(DomainError::DuplicateRegistration);
    for _ in 0..ATTEMPTS {
        let (input, slug, manage_key) = (input.clone(), event_slug.clone(), state.manage_key.clone());
        answer = idempotency::write(
            &state.db,
            key.clone(),
            201,
            move |conn, now| booking::register_participant(conn, &manage_key, &slug, &input, now),
            kept_answer,
        )
        .await;
        if !matches!(answer, Err(DomainError::DuplicateRegistration)) {
            break;
        }
    }
    // Lost every race: busy, retry — never `duplicate-registration`, which would tell.
    let answer = answer.map_err(|error| match error {
        DomainError::DuplicateRegistration => {
            DomainError::Storage(DbError::Conflict("the address changed hands meanwhile".into()))
        }
        other => other,
    })?;
    if let Answer::Fresh(Registered { duplicate: false, .. }) = answer {
        state.metrics.registrations.inc();
    }
    Ok(answer)
}

/// What is kept for a retry: the view (the manage link is derived again from its id).
fn kept_answer(registered: &Registered) -> Value {
    serde_json::to_value(&registered.view).unwrap_or_default()
}
