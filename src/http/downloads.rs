//! The export files as HTTP answers, for whoever may have them (admins, by API token or
//! board session): counts (CSV, JSON, XLSX) from the query's `by` and `format`, and the
//! attendee list (CSV, XLSX), streamed so that a very large event is never held in
//! memory.

use std::io::{self, BufWriter, Write};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::stream::{self, StreamExt};
use tokio::sync::mpsc;

use super::extract::{path_param, query_object};
use super::problem::ApiError;
use super::AppState;
use crate::db::Database;
use crate::domain::exports::{self, AttendeeCursor, CountsBy};
use crate::domain::input::Fields;
use crate::domain::{now, DomainError};
use crate::export::{self, xlsx, Format};

/// `format` from the query, one of `allowed`, csv when absent.
fn format_param(fields: &mut Fields, allowed: &[Format]) -> Option<Format> {
    let text = fields.optional_text("format", 16).unwrap_or_else(|| "csv".into());
    let names: Vec<&str> = allowed.iter().map(|f| f.extension()).collect();
    match Format::parse(&text).filter(|f| allowed.contains(f)) {
        Some(format) => Some(format),
        None => {
            fields.error("format", format!("must be one of {}", names.join(", ")));
            None
        }
    }
}

fn download(format: Format, file_name: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, format.content_type()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ));
    response
}

/// The counts export of the `{event}` in the path, once the caller is known to be an
/// admin (by API token in `http::exports`, by board session in `pages::board`).
pub async fn counts_file(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let event = path_param(req, "event");
    let mut fields = Fields::new(query_object(req));
    let by_text = fields.optional_text("by", 16).unwrap_or_else(|| "country".into());
    let by = CountsBy::parse(&by_text);
    if by.is_none() {
        fields.error("by", format!("must be one of {}", CountsBy::CHOICES.join(", ")));
    }
    let format = format_param(&mut fields, &[Format::Csv, Format::Json, Format::Xlsx]);
    let (by, format) = fields.finish(|| by.zip(format))?;
    let counts = state
        .db
        .read(move |conn| exports::counts(conn, &event, by, now()))
        .await?;
    if format == Format::Json {
        return Ok(HttpResponse::Ok().json(export::json::counts(&counts)));
    }
    let file_name = export::counts_file_name(counts.event(), by, now().date(), format);
    let table = export::counts_table(&counts);
    let body = match format {
        Format::Xlsx => xlsx::table(&table, "Counts").map_err(|e| ApiError::Internal(e.to_string()))?,
        _ => export::csv::table(&table),
    };
    Ok(download(format, &file_name).body(body))
}

/// The answer counts per site visit of the `{event}` in the path (docs/questions.md).
pub async fn answer_counts_file(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let event = path_param(req, "event");
    let mut fields = Fields::new(query_object(req));
    let by = fields
        .optional_text("by", 16)
        .unwrap_or_else(|| "site_visit".into());
    if by != "site_visit" {
        fields.error("by", "must be site_visit");
    }
    let format = format_param(&mut fields, &[Format::Csv, Format::Json, Format::Xlsx]);
    let format = fields.finish(|| format)?;
    let slug = event.clone();
    let visits = state
        .db
        .read(move |conn| exports::answer_counts_by_visit(conn, &slug))
        .await?;
    if format == Format::Json {
        return Ok(HttpResponse::Ok().json(AnswerCountsDocument {
            event,
            by: "site_visit".into(),
            site_visits: visits,
        }));
    }
    let file_name = export::file_name(&event, "answers-by-site-visit", now().date(), format);
    let table = export::answer_counts_table(&visits);
    let body = match format {
        Format::Xlsx => xlsx::table(&table, "Answers").map_err(|e| ApiError::Internal(e.to_string()))?,
        _ => export::csv::table(&table),
    };
    Ok(download(format, &file_name).body(body))
}

/// The JSON answer counts.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AnswerCountsDocument {
    pub event: String,
    /// `site_visit`.
    pub by: String,
    pub site_visits: Vec<exports::VisitAnswerCounts>,
}

/// The attendee list of the `{event}` in the path, once the caller is known to be an
/// admin.
pub async fn attendees_file(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let event = path_param(req, "event");
    let mut fields = Fields::new(query_object(req));
    let format = format_param(&mut fields, &[Format::Csv, Format::Xlsx]);
    let format = fields.finish(|| format)?;
    let (cursor, total) = state
        .db
        .read(move |conn| {
            let cursor = AttendeeCursor::open(conn, &event)?;
            let total = cursor.total(conn)?;
            Ok::<_, DomainError>((cursor, total))
        })
        .await?;
    if format == Format::Xlsx && total >= xlsx::MAX_ROWS {
        return Err(DomainError::invalid(
            "format",
            format!("{total} attendees do not fit in one XLSX sheet; use format=csv"),
        )
        .into());
    }
    let file_name = export::file_name(cursor.event_slug(), "attendees", now().date(), format);
    let db = state.db.clone();
    let response = download(format, &file_name);
    Ok(match format {
        Format::Xlsx => stream_xlsx(response, db, cursor),
        _ => stream_csv(response, db, cursor),
    })
}

/// One page per poll, read in its own transaction; the body is pulled by the client,
/// so at most a page is in memory however large the event.
fn stream_csv(
    mut response: actix_web::HttpResponseBuilder,
    db: Database,
    cursor: AttendeeCursor,
) -> HttpResponse {
    let header = Bytes::from(export::csv::attendee_header(&cursor.answer_columns()));
    let pages = stream::unfold(Some((db, cursor)), |state| async move {
        let (db, mut cursor) = state?;
        let read = db
            .read(move |conn| {
                let page = cursor.next_page(conn)?;
                Ok::<_, DomainError>((cursor, page))
            })
            .await;
        match read {
            Ok((_, page)) if page.is_empty() => None,
            Ok((cursor, page)) => Some((
                Ok(Bytes::from(export::csv::attendee_lines(&page))),
                Some((db, cursor)),
            )),
            Err(error) => {
                // The status line is sent: all that is left is to cut the body short.
                tracing::error!(%error, "attendee export stopped");
                Some((Err(io::Error::other(error.to_string())), None))
            }
        }
    });
    let header = stream::once(async { Ok::<_, io::Error>(header) });
    response.streaming(header.chain(pages))
}

/// Sends what the workbook writer produces to the response body, a chunk at a time.
struct ChannelWriter(mpsc::Sender<io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The workbook is written on a blocking thread, page by page into rust_xlsxwriter's
/// constant-memory sheet (a temporary file), then zipped straight into the body.
fn stream_xlsx(
    mut response: actix_web::HttpResponseBuilder,
    db: Database,
    mut cursor: AttendeeCursor,
) -> HttpResponse {
    let (sender, mut receiver) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut writer = BufWriter::with_capacity(64 * 1024, ChannelWriter(sender.clone()));
        if let Err(error) = write_workbook(&db, &mut cursor, &mut writer) {
            tracing::error!(%error, "attendee workbook stopped");
            let _ = sender.blocking_send(Err(io::Error::other(error)));
        }
    });
    let body = stream::poll_fn(move |cx| receiver.poll_recv(cx));
    response.streaming(body)
}

fn write_workbook<W: Write + Send>(
    db: &Database,
    cursor: &mut AttendeeCursor,
    writer: &mut W,
) -> Result<(), String> {
    let mut workbook = xlsx::AttendeeWorkbook::new(&cursor.answer_columns()).map_err(|e| e.to_string())?;
    loop {
        let page = db
            .read_blocking(|conn| cursor.next_page(conn))
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            break;
        }
        workbook.append(&page).map_err(|e| e.to_string())?;
    }
    workbook.finish(&mut *writer).map_err(|e| e.to_string())?;
    writer.flush().map_err(|e| e.to_string())
}
