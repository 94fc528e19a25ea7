//! `DELETE /api/v1/events/{event}/registrations/{id}`: organisers cancel a registration;
//! with `?erase=true`, admins erase the person's data (the right to be forgotten).

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{query_object, require_role};
use super::problem::ApiError;
use super::AppState;
use crate::domain::access::Role;
use crate::domain::erasure;
use crate::domain::input::Fields;
use crate::domain::now;

#[utoipa::path(
    delete,
    path = "/api/v1/events/{event}/registrations/{id}",
    tag = "organiser",
    summary = "Cancel a registration (organisers); with `erase=true`, erase the person's data (admins)",
    security(("bearer" = [])),
    params(
        ("event" = String, Path, description = "Event slug"),
        ("id" = String, Path, description = "Registration id"),
        ("erase" = Option<bool>, Query, description = "Erase the personal data too (admins only)"),
    ),
    responses((status = 200, description = "The registration as cancelled, or the erasure", body = StaffDeletion)),
)]
pub async fn delete_registration(
    path: web::Path<(String, String)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut fields = Fields::new(query_object(&req));
    let erase = fields.flag("erase").unwrap_or(false);
    fields.finish(|| Some(()))?;
    let (event, id) = path.into_inner();
    // The role needed depends on the query, so it is checked here rather than by an
    // extractor: erasing needs an admin, cancelling an organiser.
    if erase {
        let actor = require_role(&req, &state, Role::Admin).await?;
        let erased = state
            .db
            .write(move |conn| erasure::erase_registration(conn, &actor.name, &event, &id, now()))
            .await?;
        erasure::after_erasure(&state.db).await;
        return Ok(HttpResponse::Ok().json(erased));
    }
    let actor = require_role(&req, &state, Role::Organiser).await?;
    let view = state
        .db
        .write(move |conn| erasure::cancel_by_staff(conn, &actor.name, &event, &id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// What `DELETE …/registrations/{id}` answers: the registration as cancelled, or, with
/// `erase=true`, the erasure.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum StaffDeletion {
    Cancelled(Box<crate::domain::view::RegistrationView>),
    Erased(crate::domain::erasure::Erasure),
}
