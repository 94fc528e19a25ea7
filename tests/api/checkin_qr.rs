//! Issue 18, the check-in code shown to participants: the QR code in a real email (through
//! the test SMTP server) is an inline PNG that decodes to the code the manage API gives,
//! the manage page draws the same code as inline SVG, and only a confirmed registration is
//! shown one (not a cancelled one, not one on the event's waiting list).

use std::time::Duration;

use mail_parser::{MessagePart, MimeHeaders};
use serde_json::{json, Value};

use crate::helpers::{call, send, Backend, Reply, TestApp};
use crate::smtp::{Received, SmtpServer};

crate::on_both_backends!(
    the_emailed_qr_code_is_the_manage_views_check_in_code,
    the_manage_page_draws_the_code_as_inline_svg_in_both_languages,
    waitlisted_and_cancelled_registrations_are_shown_no_code,
);

const WAIT: Duration = Duration::from_secs(30);

fn app_with_smtp(backend: Backend, smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    TestApp::spawn_with(backend, move |settings| settings.mail.smtp_url = url)
}

fn person(first: &str, email: &str, preferences: &[&str]) -> Value {
    json!({"first_name": first, "last_name": "Scanner", "email": email, "organisation": "Cluster",
           "country": "BE", "preferences": preferences, "consent": true})
}

/// `/api/v1/manage/{token}` of a registration's answer.
fn manage_path(registered: &Reply) -> String {
    assert_eq!(registered.status, 201, "{}", registered.body);
    registered.location.clone().expect("Location")
}

fn manage_view(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// The code the manage API shows, which must be there.
fn checkin_code(view: &Value) -> String {
    let code = view["checkin_code"]
        .as_str()
        .unwrap_or_else(|| panic!("no checkin_code in {view}"))
        .to_owned();
    assert_eq!(code.len(), 20, "{code}");
    assert!(
        code.bytes().all(|b| matches!(b, b'A'..=b'Z' | b'2'..=b'7')),
        "{code}"
    );
    code
}

fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|g| std::str::from_utf8(g).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of a QR code in a greyscale image (0 black), which must hold exactly one.
fn read_qr(width: usize, height: usize, grey: &[u8]) -> String {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| grey[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (meta, text) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(meta.version.0, 1, "a version 1 symbol, the least dense");
    text
}

/// The `cid:` the HTML part's `<img>` shows.
fn image_cid(html: &str) -> Option<String> {
    let start = html.find("src=\"cid:")? + "src=\"cid:".len();
    Some(html[start..start + html[start..].find('"')?].to_owned())
}

fn content_id<'a>(part: &'a MessagePart<'a>) -> Option<&'a str> {
    part.content_id()
        .map(|id| id.trim_start_matches('<').trim_end_matches('>'))
}

/// The check-in code an email carries: its HTML's `<img src="cid:…">` names an inline PNG
/// part by Content-ID, which is decoded (png) and read as a QR code (rqrr). `None` when the
/// email shows no such image.
fn emailed_qr_code(mail: &Received) -> Option<String> {
    let message = mail.parsed();
    let cid = image_cid(&mail.html())?;
    let part = message
        .parts
        .iter()
        .find(|part| content_id(part) == Some(cid.as_str()))
        .unwrap_or_else(|| panic!("no part with Content-ID <{cid}>"));
    assert!(part.is_content_type("image", "png"), "{:?}", part.content_type());
    let disposition = part.content_disposition().expect("a Content-Disposition");
    assert!(disposition.is_inline(), "shown in the HTML, not attached");
    let raw = String::from_utf8_lossy(&mail.data);
    assert!(
        raw.contains("multipart/related"),
        "the image is related to the HTML"
    );

    let mut decoder = png::Decoder::new(std::io::Cursor::new(part.contents()));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.width, info.height);
    pixels.truncate(info.buffer_size());
    Some(read_qr(info.width as usize, info.height as usize, &pixels))
}

/// No image of any kind, and no code in either body.
fn assert_no_code(mail: &Received, code: &str) {
    assert_eq!(image_cid(&mail.html()), None, "{}", mail.html());
    assert!(
        mail.parsed()
            .parts
            .iter()
            .all(|p| !p.is_content_type("image", "png")),
        "no image part"
    );
    for body in [mail.text(), mail.html()] {
        assert!(!body.contains(&grouped(code)) && !body.contains(code), "{body}");
    }
}

fn the_emailed_qr_code_is_the_manage_views_check_in_code(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    app.create_event("qr", json!({}), &[("steel", 5), ("bio", 5)]);
    let path = manage_path(&app.register("qr", &person("Ana", "ana@example.org", &["steel"])));
    let code = checkin_code(&manage_view(&app, &path));

    let confirmation = smtp.wait_for(1, WAIT).remove(0);
    assert!(
        confirmation.subject().contains("confirmed"),
        "{}",
        confirmation.subject()
    );
    assert_eq!(emailed_qr_code(&confirmation).as_deref(), Some(code.as_str()));
    let text = confirmation.text();
    assert!(
        text.contains(&format!("Your check-in code: {}", grouped(&code))),
        "{text}"
    );
    assert!(
        confirmation.html().contains(&grouped(&code)),
        "the code beside the image"
    );
    assert!(
        confirmation.calendar().is_some(),
        "the invitation is still attached"
    );

    // A change of choices: the update email carries the same code, and so does the view.
    let changed = send(
        ureq::request("PATCH", &app.url(&path)),
        "application/json",
        &json!({"preferences": ["bio"]}).to_string(),
        None,
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(checkin_code(&changed.json()), code);
    let update = smtp.wait_for(2, WAIT).remove(1);
    assert!(update.subject().contains("updated"), "{}", update.subject());
    assert_eq!(emailed_qr_code(&update).as_deref(), Some(code.as_str()));
    assert!(update.text().contains(&grouped(&code)), "{}", update.text());

    // Another person's code is another code.
    let other = manage_path(&app.register("qr", &person("Bo", "bo@example.org", &["steel"])));
    let other_code = checkin_code(&manage_view(&app, &other));
    assert_ne!(other_code, code);
    smtp.wait_for(3, WAIT);
    let to_bo = smtp.to("bo@example.org").remove(0);
    assert_eq!(emailed_qr_code(&to_bo).as_deref(), Some(other_code.as_str()));

    // The outbox keeps the email's data, never the code: it is derived when sending.
    let emails = call(
        ureq::get(&app.url("/api/v1/emails")).set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    assert_eq!(emails.status, 200, "{}", emails.body);
    assert!(!emails.body.contains(&code));
}

/// The rectangles of the page's QR path drawn into a greyscale image, `scale` px a module.
fn rasterise_svg(svg: &str, scale: usize) -> (usize, Vec<u8>) {
    let view_box = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
    let modules: usize = view_box.split(' ').next().unwrap().parse().unwrap();
    let side = modules * scale;
    let mut grey = vec![255u8; side * side];
    let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        // `M{x} {y}h{run}v1h-{run}z`
        let numbers: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let (x, y, run) = (numbers[0], numbers[1], numbers[2]);
        assert_eq!(rect, format!("{x} {y}h{run}v1h-{run}z"), "rows of modules");
        for py in y * scale..(y + 1) * scale {
            for px in x * scale..(x + run) * scale {
                grey[py * side + px] = 0;
            }
        }
    }
    (side, grey)
}

fn page(app: &TestApp, path: &str, lang: &str) -> Reply {
    let reply = call(ureq::get(&app.url(&format!("{path}?lang={lang}"))), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
}

fn the_manage_page_draws_the_code_as_inline_svg_in_both_languages(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("qr", json!({}), &[("steel", 5)]);
    let api_path = manage_path(&app.register("qr", &person("Ana", "ana@example.org", &["steel"])));
    let code = checkin_code(&manage_view(&app, &api_path));
    let page_path = api_path.replace("/api/v1/manage/", "/manage/");

    for (lang, heading) in [("en", "Your check-in code"), ("fr", "Votre code d&#x27;accès")] {
        let reply = page(&app, &page_path, lang);
        let html = reply.body;
        assert!(html.contains(heading), "{html}");
        assert!(
            html.contains(&format!("<code id=\"checkin-code\">{}</code>", grouped(&code))),
            "the code in groups of four"
        );
        let start = html.find("<svg ").expect("an inline <svg>");
        let svg = &html[start..start + html[start..].find("</svg>").unwrap() + "</svg>".len()];
        assert!(
            svg.contains("class=\"checkin-qr\"") && svg.contains("role=\"img\""),
            "{svg}"
        );
        assert!(!svg.contains("style="), "no inline style under the CSP");
        assert!(!html.contains("<img"), "nothing to fetch");
        let (side, grey) = rasterise_svg(svg, 4);
        assert_eq!(read_qr(side, side, &grey), code);
    }
    // The CSP the page is served with is unchanged: inline SVG markup needs nothing of it.
    let headers = ureq::get(&app.url(&page_path)).call().unwrap();
    let policy = headers.header("Content-Security-Policy").unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
}

fn waitlisted_and_cancelled_registrations_are_shown_no_code(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp);
    // One place at the event: the second person waits for it.
    app.create_event("full", json!({"capacity": 1}), &[("steel", 5)]);
    let first = manage_path(&app.register("full", &person("Ana", "ana@example.org", &["steel"])));
    let first_code = checkin_code(&manage_view(&app, &first));
    let waiting = manage_path(&app.register("full", &person("Li", "li@example.org", &["steel"])));
    let view = manage_view(&app, &waiting);
    assert_eq!(view["status"], "waitlisted");
    assert!(view["checkin_code"].is_null(), "{view}");
    let waiting_page = page(&app, &waiting.replace("/api/v1/manage/", "/manage/"), "en").body;
    assert!(!waiting_page.contains("<svg") && !waiting_page.contains("checkin-code"));
    smtp.wait_for(2, WAIT);
    let to_li = smtp.to("li@example.org").remove(0);
    assert!(to_li.text().contains("waiting list"), "{}", to_li.text());
    assert_eq!(
        emailed_qr_code(&to_li),
        None,
        "a waitlisted code would not check in"
    );
    assert!(!to_li.text().contains("check-in code"), "{}", to_li.text());

    // Ana cancels: her view, page and cancellation email show no code; Li gets the place,
    // and the email saying so carries her code.
    let cancelled = call(ureq::delete(&app.url(&first)), None);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert!(cancelled.json()["checkin_code"].is_null(), "{}", cancelled.body);
    assert!(manage_view(&app, &first)["checkin_code"].is_null());
    let cancelled_page = page(&app, &first.replace("/api/v1/manage/", "/manage/"), "en").body;
    assert!(!cancelled_page.contains("<svg") && !cancelled_page.contains(&grouped(&first_code)));
    smtp.wait_for(4, WAIT);
    let cancellation = smtp.to("ana@example.org").pop().unwrap();
    assert!(
        cancellation.subject().contains("cancelled"),
        "{}",
        cancellation.subject()
    );
    assert_no_code(&cancellation, &first_code);

    let li_code = checkin_code(&manage_view(&app, &waiting));
    let placed = smtp.to("li@example.org").pop().unwrap();
    assert!(placed.text().contains("now confirmed"), "{}", placed.text());
    assert_eq!(emailed_qr_code(&placed).as_deref(), Some(li_code.as_str()));
}
