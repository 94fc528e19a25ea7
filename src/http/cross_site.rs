//! What a browser may not do to the service on another site's behalf: the one rule of
//! which origin is this site, used by the pages' CSRF check and by the API, which
//! refuses every write a browser sends from another site (a form post needs no CORS
//! preflight, so without this any page could make its visitors register people).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, ResponseError};

use super::problem::ApiError;
use super::AppState;

/// `scheme://authority` of a URL (the origin a `Referer` implies), scheme in lower case.
pub fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{}://{authority}", scheme.to_ascii_lowercase())
        }
        None => String::new(),
    }
}

/// The origin a browser claims for a request: its `Origin`, or without one the origin of
/// its `Referer`; `None` when it sent neither. `Origin: null` is returned as `"null"`.
pub fn claimed_origin(headers: &HeaderMap) -> Option<String> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match text(header::ORIGIN) {
        Some(origin) => Some(origin.trim().to_owned()),
        None => text(header::REFERER).map(origin_of),
    }
}

/// True when `origin` is this site: the public URL's origin, or the scheme and host the
/// request was sent to (a page opened as `localhost` rather than `127.0.0.1` is still
/// this site). Only `http` and `https` origins can be this site.
pub fn is_same_origin(req: &HttpRequest, public_url: &str, origin: &str) -> bool {
    if origin.eq_ignore_ascii_case(&origin_of(public_url)) {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let info = req.connection_info();
    matches!(scheme, "http" | "https")
        && scheme.eq_ignore_ascii_case(info.scheme())
        && !authority.is_empty()
        && authority.eq_ignore_ascii_case(info.host())
}

/// Middleware of the JSON API: a write (any method but GET, HEAD and OPTIONS) that a
/// browser sends from another site — its `Origin` (or `Referer`) names another origin,
/// or is `null` as from a sandboxed frame — is refused with 403 before anything is read.
/// Clients that are not browsers send neither header and are not affected.
pub async fn refuse_cross_site_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if let Some(origin) = claimed_origin(req.headers()) {
            let public_url = req
                .app_data::<web::Data<AppState>>()
                .map(|state| state.public_url.clone())
                .unwrap_or_default();
            if !is_same_origin(req.request(), &public_url, &origin) {
                tracing::info!(%origin, "cross-site write refused");
                let response = ApiError::CrossSite.error_response();
                return Ok(req.into_response(response).map_into_right_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_this_sites_scheme_and_host_are_this_site() {
        let req = TestRequest::default()
            .insert_header((header::HOST, "127.0.0.1:8080"))
            .to_http_request();
        let public = "https://register.example.org/";
        assert!(is_same_origin(&req, public, "http://127.0.0.1:8080"));
        assert!(is_same_origin(&req, public, "https://register.example.org"));
        assert!(is_same_origin(&req, public, "HTTPS://Register.Example.org"));
        assert!(
            !is_same_origin(&req, public, "ftp://127.0.0.1:8080"),
            "the scheme counts"
        );
        assert!(
            !is_same_origin(&req, public, "https://127.0.0.1:8080"),
            "not the request's scheme"
        );
        assert!(!is_same_origin(&req, public, "http://evil.example"));
        assert!(!is_same_origin(&req, public, "null"));
        assert!(!is_same_origin(&req, public, "http://"));
        assert_eq!(origin_of("HTTP://a.example/x?y#z"), "http://a.example");
        assert_eq!(origin_of("https://cmr.example/events/x?y"), "https://cmr.example");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin_of("no scheme"), "");
    }
}
