//! `DELETE /api/v1/events/{event}/registrations/{id}`: organisers cancel a registration;
//! with `?erase=true`, admins erase the person's data (the right to be forgotten).

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{path_param, query_object, require_role};
use super::problem::ApiError;
use super::AppState;
use crate::domain::access::Role;
use crate::domain::erasure;
use crate::domain::input::Fields;
use crate::domain::now;

pub async fn delete_registration(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut fields = Fields::new(query_object(&req));
    let erase = fields.flag("erase").unwrap_or(false);
    fields.finish(|| Some(()))?;
    let (event, id) = (path_param(&req, "event"), path_param(&req, "id"));
    if erase {
        let actor = require_role(&req, &state, Role::Admin).await?;
        let erased = state
            .db
            .write(move |conn| erasure::erase_registration(conn, &actor.name, &event, &id, now()))
            .await?;
        return Ok(HttpResponse::Ok().json(erased));
    }
    let actor = require_role(&req, &state, Role::Organiser).await?;
    let view = state
        .db
        .write(move |conn| erasure::cancel_by_staff(conn, &actor.name, &event, &id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
