//! rallypoint: conference registration with capacity-limited site visits.
//!
//! Layers, top to bottom: `http` (the edge) → `domain` (the rules) → `store` (diesel
//! queries), `mail` (outbox content, rendering, delivery) and `webhooks` (destinations,
//! signing, delivery) → `db` (connections, pools, migrations). `i18n` (the two languages
//! of participants' pages and emails) is a leaf that the edge, the domain and the mail
//! renderer all use; so is `qr` (the QR code of a check-in code, drawn for the manage
//! page and the emails).

pub mod background;
pub mod cli;
pub mod db;
pub mod domain;
pub mod export;
pub mod http;
pub mod i18n;
pub mod mail;
pub mod qr;
pub mod retention;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod timed;
pub mod webhooks;

/// Arrows point down only. Each module of `src/` may use the modules listed for it and
/// nothing else of the crate; a `use crate::…` (or a path `crate::…`) that points up a
/// layer fails this test. `super::` stays inside a module's own folder.
#[cfg(test)]
mod layers {
    use std::path::Path;

    /// Top-level module → the crate's modules it may use.
    const ALLOWED: &[(&str, &[&str])] = &[
        ("main", &["cli"]),
        ("cli", &["*"]),
        ("startup", &["*"]),
        (
            "http",
            &["domain", "export", "db", "i18n", "settings", "telemetry", "qr"],
        ),
        ("export", &["domain", "i18n"]),
        ("retention", &["domain", "db", "settings", "background"]),
        ("timed", &["domain", "db", "background"]),
        ("domain", &["store", "mail", "webhooks", "db", "i18n"]),
        ("mail", &["store", "db", "i18n", "settings", "background", "qr"]),
        ("webhooks", &["store", "db", "settings", "background"]),
        ("store", &["db"]),
        ("settings", &["db"]),
        ("db", &[]),
        ("i18n", &[]),
        ("qr", &[]),
        ("background", &[]),
        ("telemetry", &[]),
        ("lib", &["*"]),
    ];

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The crate modules a source text names through `crate::`.
    fn named_modules(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                names.extend(
                    inner
                        .split(',')
                        .map(|p| p.trim().split("::").next().unwrap_or("").to_owned()),
                );
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
            }
        }
        names.retain(|n| !n.is_empty());
        names
    }

    #[test]
    fn no_module_imports_from_a_layer_above_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut violations = Vec::new();
        for file in &files {
            let relative = file.strip_prefix(&src).unwrap();
            let top = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let top = top.trim_end_matches(".rs");
            let allowed = ALLOWED
                .iter()
                .find(|(module, _)| *module == top)
                .unwrap_or_else(|| panic!("src/{top} has no place in the layer table"))
                .1;
            let text = std::fs::read_to_string(file).unwrap();
            for name in named_modules(&text) {
                if name != top && !allowed.contains(&"*") && !allowed.contains(&name.as_str()) {
                    violations.push(format!("{} uses crate::{name}", relative.display()));
                }
            }
        }
        violations.sort();
        violations.dedup();
        assert!(
            violations.is_empty(),
            "imports that point up a layer:\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn the_scan_sees_plain_grouped_and_inline_paths() {
        let text = "use crate::db::X;\nuse crate::{http::A, mail};\nlet a = crate::store::f();";
        assert_eq!(named_modules(text), ["db", "http", "mail", "store"]);
    }
}
