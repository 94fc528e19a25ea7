//! Admins' webhook endpoints: register one (its secret shown once), list, look at, delete,
//! rotate its secret (the old one keeps signing for a while), read its delivery log and
//! redeliver a delivery. Every change is audited (no event; the subject is the endpoint's
//! id), never with a secret.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::EventType;
use crate::db::DbConnection;
use crate::domain::access::{new_secret, ManageKey};
use crate::domain::audit::{self, AuditEntry};
use crate::domain::error::DomainError;
use crate::domain::input::Fields;
use crate::store::events;
use crate::store::webhooks::{self as stored, DeliveryRow, EndpointRow, NewEndpointRow};
use crate::webhooks::signature::secret_text;
use crate::webhooks::target;

/// What the settings decide for endpoints (`[webhooks]`).
#[derive(Clone, Copy, Debug)]
pub struct EndpointPolicy {
    /// Endpoints may be on loopback, private and other non-public addresses.
    pub allow_private_addresses: bool,
    /// How long a rotated-out secret keeps signing.
    pub rotation_overlap: Duration,
}

/// An endpoint to register, parsed once at the edge. Its address is checked apart
/// ([`NewEndpoint::check_destination`]), because that resolves a name.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    pub url: String,
    /// Event types, or `*` alone for every type.
    pub event_types: Vec<String>,
    /// The slug of the one event it hears about; `None`: every event.
    pub event: Option<String>,
    pub personal_data: bool,
}

impl NewEndpoint {
    /// From `{url, events, event?, personal_data?}`; every fault at once.
    pub fn parse(body: Map<String, Value>) -> Result<Self, DomainError> {
        let mut fields = Fields::new(body);
        let url =
            fields
                .required_text("url", target::MAX_URL_LENGTH)
                .and_then(|text| match target::parse_url(&text) {
                    Ok(url) => Some(url.to_string()),
                    Err(message) => {
                        fields.error("url", message);
                        None
                    }
                });
        let listed = fields.string_list("events");
        let mut event_types: Vec<String> = Vec::new();
        for name in listed {
            if name != stored::EVERY_TYPE && EventType::parse(&name).is_none() {
                fields.error(
                    "events",
                    format!(
                        "`{name}` is not an event type; known: {}, or `*` for all",
                        EventType::ALL.map(EventType::as_str).join(", ")
                    ),
                );
            } else if !event_types.contains(&name) {
                event_types.push(name);
            }
        }
        if event_types.is_empty() && !fields.has_error("events") {
            fields.error("events", "is required: a list of event types, or [\"*\"] for all");
        }
        if event_types.len() > 1 && event_types.iter().any(|t| t == stored::EVERY_TYPE) {
            fields.error("events", "`*` already means every type: list it alone");
        }
        let event = fields.optional_text("event", 64);
        let personal_data = fields.flag("personal_data").unwrap_or(false);
        fields.finish(|| {
            Some(Self {
                url: url?,
                event_types,
                event,
                personal_data,
            })
        })
    }

    /// Resolves the URL's host and refuses it when no address of it may receive
    /// webhooks (private ones, unless allowed). Blocking: call it off the async threads.
    pub fn check_destination(&self, policy: &EndpointPolicy) -> Result<(), DomainError> {
        let url = target::parse_url(&self.url).map_err(|message| DomainError::invalid("url", message))?;
        target::check_destination(&url, policy.allow_private_addresses)
            .map_err(|message| DomainError::invalid("url", message))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Receives deliveries.
    Active,
    /// Answered 410 Gone: receives nothing more (see `disabled_reason`).
    Disabled,
}

/// An endpoint as admins see it: never its secret.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    /// The event types it receives; `["*"]`: every type.
    pub events: Vec<String>,
    /// The slug of the one event it hears about; null: every event.
    pub event: Option<String>,
    /// Payloads name the person (names, email, organisation, country, job title,
    /// language).
    pub personal_data: bool,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// After a rotation: until then, deliveries carry a signature by the previous
    /// secret too. Null when there is none (or it has expired).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

fn view_of(
    conn: &mut DbConnection,
    row: EndpointRow,
    event_types: Vec<String>,
    now: NaiveDateTime,
) -> Result<EndpointView, DomainError> {
    let event = match &row.event_id {
        Some(id) => Some(events::find(conn, id)?.slug),
        None => None,
    };
    Ok(EndpointView {
        events: event_types,
        event,
        personal_data: row.personal_data,
        status: if row.status == stored::DISABLED {
            EndpointStatus::Disabled
        } else {
            EndpointStatus::Active
        },
        disabled_reason: row.disabled_reason,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
        previous_secret_expires_at: row
            .previous_secret_until
            .filter(|until| *until > now)
            .map(|until| until.and_utc()),
        id: row.id,
        url: row.url,
    })
}

fn find_row(conn: &mut DbConnection, id: &str) -> Result<EndpointRow, DomainError> {
    stored::find_endpoint(conn, id)?.ok_or(DomainError::NotFound("webhook endpoint"))
}

/// The endpoint `id` as it stands at `now`.
pub fn find(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<EndpointView, DomainError> {
    let row = find_row(conn, id)?;
    let types = stored::subscriptions(conn, std::slice::from_ref(&row.id))?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    view_of(conn, row, types, now)
}

/// Every endpoint, oldest first.
pub fn list(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Vec<EndpointView>, DomainError> {
    let rows = stored::list_endpoints(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let subscriptions = stored::subscriptions(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            let types = subscriptions
                .iter()
                .filter(|(id, _)| *id == row.id)
                .map(|(_, t)| t.clone())
                .collect();
            view_of(conn, row, types, now)
        })
        .collect()
}

/// An endpoint with its secret: only when it is made or its secret rotated.
pub struct WithSecret {
    pub endpoint: EndpointView,
    /// `whsec_` and the signing key in base64.
    pub secret: String,
}

/// Registers an endpoint for `actor` (audited) and returns it with its secret. The
/// destination must have been checked ([`NewEndpoint::check_destination`]).
pub fn create(
    conn: &mut DbConnection,
    key: &ManageKey,
    actor: &str,
    new: &NewEndpoint,
    now: NaiveDateTime,
) -> Result<WithSecret, DomainError> {
    let event_id = match &new.event {
        Some(slug) => Some(
            events::find_by_slug(conn, slug)?
                .ok_or_else(|| DomainError::invalid("event", format!("there is no event `{slug}`")))?
                .id,
        ),
        None => None,
    };
    let id = uuid::Uuid::now_v7().to_string();
    let salt = new_secret("");
    let types: Vec<&str> = new.event_types.iter().map(String::as_str).collect();
    stored::insert_endpoint(
        conn,
        &NewEndpointRow {
            id: &id,
            url: &new.url,
            event_id: event_id.as_deref(),
            personal_data: new.personal_data,
            secret_salt: &salt,
            status: stored::ACTIVE,
            created_at: now,
            updated_at: now,
        },
        &types,
    )?;
    let endpoint = find(conn, &id, now)?;
    audit::record(
        conn,
        AuditEntry {
            event_id: event_id.as_deref(),
            actor,
            action: "webhook.create",
            subject: Some(&id),
            before: None,
            after: Some(json!({
                "url": endpoint.url,
                "events": endpoint.events,
                "personal_data": endpoint.personal_data,
            })),
        },
        now,
    )?;
    Ok(WithSecret {
        endpoint,
        secret: secret_text(&key.webhook_key(&id, &salt)),
    })
}

/// Deletes an endpoint and its delivery log for `actor` (audited); deliveries not yet
/// sent are never sent.
pub fn delete(conn: &mut DbConnection, actor: &str, id: &str, now: NaiveDateTime) -> Result<(), DomainError> {
    let row = find_row(conn, id)?;
    stored::delete_endpoint(conn, id)?;
    audit::record(
        conn,
        AuditEntry {
            event_id: row.event_id.as_deref(),
            actor,
            action: "webhook.delete",
            subject: Some(id),
            before: Some(json!({ "url": row.url })),
            after: None,
        },
        now,
    )
}

/// Makes a disabled endpoint (a 410 answer, or an admin) active again for `actor`
/// (audited when it changes anything): it is sent the changes recorded from now on, and
/// its failed deliveries can be redelivered. An active endpoint is left as it is.
pub fn enable(
    conn: &mut DbConnection,
    actor: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<EndpointView, DomainError> {
    let row = find_row(conn, id)?;
    if stored::enable_endpoint(conn, id, now)? {
        audit::record(
            conn,
            AuditEntry {
                event_id: row.event_id.as_deref(),
                actor,
                action: "webhook.enable",
                subject: Some(id),
                before: Some(json!({ "disabled_reason": row.disabled_reason })),
                after: None,
            },
            now,
        )?;
    }
    find(conn, id, now)
}

/// Gives the endpoint a new secret (returned, shown once) for `actor` (audited); the
/// current one keeps signing for `policy.rotation_overlap`, beside the new one. A second
/// rotation within that time ends the oldest secret at once.
pub fn rotate(
    conn: &mut DbConnection,
    key: &ManageKey,
    actor: &str,
    id: &str,
    policy: &EndpointPolicy,
    now: NaiveDateTime,
) -> Result<WithSecret, DomainError> {
    let row = find_row(conn, id)?;
    let salt = new_secret("");
    stored::rotate_secret(conn, id, &salt, now + policy.rotation_overlap, now)?;
    let endpoint = find(conn, id, now)?;
    audit::record(
        conn,
        AuditEntry {
            event_id: row.event_id.as_deref(),
            actor,
            action: "webhook.rotate",
            subject: Some(id),
            before: None,
            after: Some(json!({ "previous_secret_expires_at": endpoint.previous_secret_expires_at })),
        },
        now,
    )?;
    Ok(WithSecret {
        endpoint,
        secret: secret_text(&key.webhook_key(id, &salt)),
    })
}

/// The statuses of a delivery, in the order it goes through them.
pub const DELIVERY_STATUSES: [&str; 4] = [
    stored::PENDING,
    stored::SENDING,
    stored::DELIVERED,
    stored::FAILED,
];

/// A delivery of the log.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// The message id: the `webhook-id` header, the same for every attempt.
    pub id: String,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub event_type: String,
    /// `pending` (waiting for its time, or for an earlier delivery of the same
    /// registration), `sending`, `delivered` or `failed`.
    pub status: String,
    pub registration_id: Option<String>,
    /// Attempts made (since the last redelivery).
    pub attempts: i32,
    /// The HTTP status of the last answer, if any.
    pub response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When a pending delivery is next tried.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body as sent (`{}` once the person's data was erased).
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(row: DeliveryRow) -> Self {
        Self {
            payload: serde_json::from_str(&row.payload).unwrap_or(Value::Null),
            next_attempt_at: (row.status == stored::PENDING).then(|| row.next_attempt_at.and_utc()),
            id: row.id,
            event_type: row.event_type,
            status: row.status,
            registration_id: row.registration_id,
            attempts: row.attempts,
            response_status: row.response_status,
            last_error: row.last_error,
            created_at: row.created_at.and_utc(),
            delivered_at: row.delivered_at.map(|t| t.and_utc()),
        }
    }
}

/// A page of the endpoint's delivery log, newest first, optionally of one status (one of
/// [`DELIVERY_STATUSES`]).
pub fn deliveries(
    conn: &mut DbConnection,
    endpoint_id: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<DeliveryView>, DomainError> {
    find_row(conn, endpoint_id)?;
    Ok(stored::list_deliveries(conn, endpoint_id, status, limit, offset)?
        .into_iter()
        .map(DeliveryView::from)
        .collect())
}

/// Queues a delivered or failed delivery again with a fresh attempt budget, for `actor`
/// (audited). Not while it is pending or being sent, not to a disabled endpoint, and not
/// once its payload was erased.
pub fn redeliver(
    conn: &mut DbConnection,
    actor: &str,
    endpoint_id: &str,
    delivery_id: &str,
    now: NaiveDateTime,
) -> Result<DeliveryView, DomainError> {
    let endpoint = find_row(conn, endpoint_id)?;
    let row =
        stored::find_delivery(conn, endpoint_id, delivery_id)?.ok_or(DomainError::NotFound("delivery"))?;
    if endpoint.status == stored::DISABLED {
        return Err(DomainError::invalid(
            "delivery",
            "the endpoint is disabled (it answered 410 Gone): register it again to receive deliveries",
        ));
    }
    if row.payload == stored::ERASED_PAYLOAD {
        return Err(DomainError::invalid(
            "delivery",
            "the person's data was erased: this delivery cannot be sent again",
        ));
    }
    if !stored::requeue(conn, row.seq, now)? {
        return Err(DomainError::invalid(
            "delivery",
            format!(
                "only a delivered or failed delivery can be redelivered; this one is {}",
                row.status
            ),
        ));
    }
    audit::record(
        conn,
        AuditEntry {
            event_id: row.event_id.as_deref(),
            actor,
            action: "webhook.redeliver",
            subject: Some(delivery_id),
            before: Some(json!({ "status": row.status, "attempts": row.attempts, "endpoint": endpoint_id })),
            after: Some(json!({ "status": stored::PENDING })),
        },
        now,
    )?;
    let row =
        stored::find_delivery(conn, endpoint_id, delivery_id)?.ok_or(DomainError::NotFound("delivery"))?;
    Ok(DeliveryView::from(row))
}

/// How many deliveries are in each of [`DELIVERY_STATUSES`] (zero included).
pub fn count_by_status(conn: &mut DbConnection) -> Result<Vec<(&'static str, i64)>, DomainError> {
    let counts = stored::count_by_status(conn)?;
    Ok(DELIVERY_STATUSES
        .iter()
        .map(|status| {
            let count = counts.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
            (*status, count)
        })
        .collect())
}

/// Deletes up to `limit` deliveries (delivered or failed) made more than `days` days
/// before `now` from the delivery logs; how many it deleted. Pending ones stay.
pub fn purge_log(
    conn: &mut DbConnection,
    days: u32,
    now: NaiveDateTime,
    limit: i64,
) -> Result<usize, DomainError> {
    let before = now - chrono::Duration::days(i64::from(days));
    Ok(stored::purge_settled(conn, before, limit)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_new_endpoint_names_every_fault_at_once() {
        let new = NewEndpoint::parse(body(json!({
            "url": "https://crm.example.org/hooks?k=1",
            "events": ["registration.created", "seat.assigned", "registration.created"],
        })))
        .unwrap();
        assert_eq!(new.url, "https://crm.example.org/hooks?k=1");
        assert_eq!(new.event_types, ["registration.created", "seat.assigned"]);
        assert!(!new.personal_data && new.event.is_none());
        let all = NewEndpoint::parse(body(
            json!({"url": "http://x.example/", "events": "*", "personal_data": "on"}),
        ))
        .unwrap();
        assert_eq!(all.event_types, ["*"]);
        assert!(all.personal_data);

        let Err(DomainError::Validation(errors)) = NewEndpoint::parse(body(json!({
            "url": "ftp://example.org/", "events": ["seat.taken"], "colour": "red",
        }))) else {
            panic!("refused")
        };
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["colour", "events", "url"]);
        for refused in [
            json!({"url": "https://example.org/"}),
            json!({"url": "https://example.org/", "events": []}),
            json!({"url": "https://example.org/", "events": ["*", "seat.lost"]}),
            json!({"events": ["*"]}),
            json!({"url": "gopher://example.org/", "events": ["*"]}),
            json!({"url": "https://example.org/", "events": ["*"], "personal_data": "maybe"}),
        ] {
            assert!(NewEndpoint::parse(body(refused.clone())).is_err(), "{refused}");
        }
    }
}
