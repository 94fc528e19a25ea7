//! The web pages as a browser without JavaScript meets them: a `Browser` that keeps its
//! cookies, follows no redirect and posts forms with the CSRF token the pages gave, and
//! the `Page` it gets back.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::helpers::TestApp;

/// One HTTP answer of a page.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    /// By lower-case name.
    pub headers: BTreeMap<String, String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The answer of a request, whatever its status.
    pub fn read(result: Result<ureq::Response, ureq::Error>) -> Self {
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(other) => panic!("request failed: {other}"),
        };
        let headers = response
            .headers_names()
            .into_iter()
            .map(|name| {
                let value = response.header(&name).unwrap_or_default().to_owned();
                (name.to_lowercase(), value)
            })
            .collect();
        let set_cookies = response
            .all("set-cookie")
            .into_iter()
            .map(str::to_owned)
            .collect();
        Self {
            status: response.status(),
            headers,
            set_cookies,
            body: response.into_string().unwrap_or_default(),
        }
    }

    /// A header's value, empty when the answer has none.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    pub fn location(&self) -> &str {
        self.header("location")
    }

    /// The value and `Set-Cookie` line of a cookie this answer sets.
    pub fn cookie(&self, name: &str) -> Option<(String, &str)> {
        self.set_cookies.iter().find_map(|line| {
            let value = line.strip_prefix(&format!("{name}="))?;
            Some((value.split(';').next().unwrap().to_owned(), line.as_str()))
        })
    }

    /// The `Set-Cookie` line of a cookie, empty when this answer does not set it.
    pub fn cookie_line(&self, name: &str) -> &str {
        self.cookie(name).map_or("", |(_, line)| line)
    }

    /// A redirect to the organisers' sign-in.
    pub fn sent_to_sign_in(&self) -> bool {
        self.status == 303 && self.location().starts_with("/organiser/sign-in")
    }

    pub fn assert_contains(&self, text: &str) {
        assert!(self.body.contains(text), "`{text}` not in page:\n{}", self.body);
    }

    /// [`Page::assert_contains`] for text the page wrote through its escaping: an
    /// apostrophe is `&#x27;` in the body ("Liste d&#x27;attente").
    pub fn assert_says(&self, text: &str) {
        self.assert_contains(&text.replace('\'', "&#x27;"));
    }

    pub fn assert_lacks(&self, text: &str) {
        assert!(!self.body.contains(text), "`{text}` in page:\n{}", self.body);
    }

    /// The value of the first hidden or text input named `name`.
    pub fn input_value(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name}"));
        let rest = &self.body[at..];
        let value = rest.find("value=\"").unwrap() + 7;
        rest[value..value + rest[value..].find('"').unwrap()].to_owned()
    }

    /// The values of `attribute="…"` in page order.
    pub fn attributes(&self, attribute: &str) -> Vec<String> {
        let marker = format!(" {attribute}=\"");
        self.body
            .match_indices(&marker)
            .map(|(at, _)| {
                let rest = &self.body[at + marker.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect()
    }

    /// The address of the language switch's link to `code` (`en`, `fr`), unescaped.
    pub fn switch_link(&self, code: &str) -> String {
        let marker = format!("\" hreflang=\"{code}\"");
        let end = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no switch to {code}:\n{}", self.body));
        let start = self.body[..end].rfind("href=\"").unwrap() + 6;
        unescaped(&self.body[start..end])
    }

    /// The ids of the rows shown (their `data-id`), in order.
    pub fn row_ids(&self) -> Vec<String> {
        self.attributes("data-id")
    }
}

/// An address as a page writes it in an attribute, unescaped (minijinja escapes `/`).
pub fn unescaped(href: &str) -> String {
    href.replace("&#x2f;", "/").replace("&amp;", "&")
}

/// Form fields, URL-encoded as a browser posts them.
pub fn form(fields: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// A browser without JavaScript: keeps cookies (forgets those set with `Max-Age=0`), does
/// not follow redirects, posts forms with the CSRF token of the `rp_csrf` cookie.
pub struct Browser<'a> {
    app: &'a TestApp,
    agent: ureq::Agent,
    cookies: RefCell<BTreeMap<String, String>>,
    accept_language: Option<&'static str>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
            cookies: RefCell::new(BTreeMap::new()),
            accept_language: None,
        }
    }

    /// A browser that sends this `Accept-Language` with every request.
    pub fn speaking(app: &'a TestApp, accept_language: &'static str) -> Self {
        Self {
            accept_language: Some(accept_language),
            ..Self::new(app)
        }
    }

    pub fn french(app: &'a TestApp) -> Self {
        Self::speaking(app, "fr-BE,fr;q=0.9,en;q=0.5")
    }

    /// A browser signed in to the board with `token`.
    pub fn signed_in(app: &'a TestApp, token: &str) -> Self {
        let browser = Self::new(app);
        browser.sign_in(token);
        browser
    }

    /// Signs in with `token` (the sign-in page first, for its CSRF cookie).
    pub fn sign_in(&self, token: &str) {
        assert_eq!(self.get("/organiser/sign-in").status, 200);
        let page = self.submit("/organiser/sign-in", &[("token", token), ("next", "/organiser")]);
        assert_eq!(page.status, 303, "{}", page.body);
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .borrow_mut()
            .insert(name.to_owned(), value.to_owned());
    }

    /// A request with the cookies, the language and these extra headers.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> ureq::Request {
        let mut request = self.agent.request(method, &self.app.url(path));
        let cookies = self.cookies.borrow();
        if !cookies.is_empty() {
            let line: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.set("Cookie", &line.join("; "));
        }
        if let Some(language) = self.accept_language {
            request = request.set("Accept-Language", language);
        }
        for (name, value) in headers {
            request = request.set(name, value);
        }
        request
    }

    /// The answer, its cookies kept.
    fn answer(&self, result: Result<ureq::Response, ureq::Error>) -> Page {
        let page = Page::read(result);
        for line in &page.set_cookies {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if line.contains("Max-Age=0") {
                self.cookies.borrow_mut().remove(name);
            } else {
                self.set_cookie(name, value);
            }
        }
        page
    }

    pub fn get(&self, path: &str) -> Page {
        self.answer(self.request("GET", path, &[]).call())
    }

    /// The page at `path`, which must answer 200.
    pub fn get_ok(&self, path: &str) -> Page {
        let page = self.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        page
    }

    /// Follows a 303 and returns the page it leads to.
    pub fn follow(&self, page: Page) -> Page {
        assert_eq!(page.status, 303, "{}", page.body);
        self.get(page.location())
    }

    /// Posts `fields` as a browser posts a form, with the token the pages gave.
    pub fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.cookie("rp_csrf").expect("a page was loaded first");
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all, &[])
    }

    /// Posts `fields` as they are (no token added), with these extra headers.
    pub fn post(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let request = self
            .request("POST", path, headers)
            .set("Content-Type", "application/x-www-form-urlencoded");
        self.answer(request.send_string(&form(fields)))
    }
}
