//! Admins' API tokens: list, create (the secret shown once), revoke. A token may revoke
//! itself: the request that does it still succeeds, the next one is 401.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::Value;

use super::extract::{Admin, Write};
use super::problem::ApiError;
use super::AppState;
use crate::domain::access::Role;
use crate::domain::idempotency;
use crate::domain::now;
use crate::domain::tokens::{self, IssuedToken, NewToken, TokenView};

/// `GET /api/v1/tokens`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TokenList {
    /// Oldest first, revoked and expired ones included.
    pub tokens: Vec<TokenView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "admin",
    summary = "Every API token (never a secret)",
    security(("bearer" = [])),
    responses((status = 200, description = "The tokens, oldest first", body = TokenList)),
)]
pub async fn list_tokens(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tokens = state.db.read(|conn| tokens::list(conn, now())).await?;
    Ok(HttpResponse::Ok().json(TokenList { tokens }))
}

/// A token just created, with its secret.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: TokenView,
    /// The bearer secret (`rpa_…`), shown in this answer only: the server keeps its hash.
    /// Null in an answer replayed for a repeated `Idempotency-Key`, which is kept without
    /// it; revoke that token and create another if the first answer was lost.
    pub secret: Option<String>,
}

impl CreatedToken {
    fn render(issued: &IssuedToken, with_secret: bool) -> Value {
        serde_json::to_value(CreatedToken {
            token: issued.token.clone(),
            secret: with_secret.then(|| issued.secret.clone()),
        })
        .unwrap_or_default()
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "admin",
    summary = "Create an API token; its secret is in this answer only",
    security(("bearer" = [])),
    request_body(content = NewTokenBody, content_type = "application/json"),
    responses((status = 201, description = "The token and its secret", body = CreatedToken,
        links(
            ("RevokeToken" = (operation_id = "revoke_token", parameters(("id" = "$response.body#/id")))),
        ))),
)]
pub async fn create_token(write: Write<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let new = NewToken::parse(write.body)?;
    let actor = write.caller.principal().name;
    // What is kept for a retry leaves the secret out: secrets are stored only as hashes.
    let answer = idempotency::write(
        &state.db,
        write.key,
        201,
        move |conn, now| tokens::issue(conn, &actor, &new, now),
        |issued| CreatedToken::render(issued, false),
    )
    .await?;
    let (status, body) = answer.into_parts(201, |issued| CreatedToken::render(issued, true));
    Ok(HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED)).json(body))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "admin",
    summary = "Revoke an API token and end its board sessions",
    description = "Revoking twice changes nothing: the token keeps its first `revoked_at`. \
        A token may revoke itself; the request that does it succeeds, the next one is 401.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id, as `GET /api/v1/tokens` lists it")),
    responses((status = 200, description = "The token, revoked", body = TokenView)),
)]
pub async fn revoke_token(
    admin: Admin,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (admin.principal(), id.into_inner());
    let revocation = state
        .db
        .write(move |conn| tokens::revoke(conn, &actor.name, &id, now()))
        .await?;
    Ok(HttpResponse::Ok().json(revocation.token))
}

/// `POST /api/v1/tokens`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// Who or what holds the token; one line.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    #[schema(value_type = Role)]
    pub role: String,
    /// The token stops working this many days from now; absent, it works until revoked.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
}
