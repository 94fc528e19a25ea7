//! The counts as JSON: the same numbers as the CSV, with the per-visit seats of a
//! country as an object keyed by visit slug. JSON is data, not a spreadsheet: nothing is
//! neutralised here.

use serde_json::{json, Map, Value};

use crate::domain::exports::{CountryCounts, CountryLine, Counts, VisitCounts, VisitLine};

pub fn counts(counts: &Counts) -> Value {
    match counts {
        Counts::ByCountry(counts) => by_country(counts),
        Counts::BySiteVisit(counts) => by_site_visit(counts),
    }
}

fn country_line(visits: &[String], line: &CountryLine) -> Value {
    let per_visit: Map<String, Value> = visits
        .iter()
        .zip(&line.per_visit)
        .map(|(slug, n)| (slug.clone(), json!(n)))
        .collect();
    json!({
        "country": line.country,
        "country_name": line.country_name,
        "registered": line.registered,
        "assigned": line.assigned,
        "waitlisted": line.waitlisted,
        "site_visits": per_visit,
    })
}

fn by_country(counts: &CountryCounts) -> Value {
    json!({
        "event": counts.event,
        "by": "country",
        "site_visits": counts.visits,
        "rows": counts.lines.iter().map(|l| country_line(&counts.visits, l)).collect::<Vec<_>>(),
        "total": country_line(&counts.visits, &counts.total),
    })
}

fn visit_line(line: &VisitLine) -> Value {
    json!({
        "site_visit": line.site_visit,
        "name": line.name,
        "capacity": line.capacity,
        "assigned": line.assigned,
        "waitlisted": line.waitlisted,
        "seats_left": line.seats_left,
    })
}

fn by_site_visit(counts: &VisitCounts) -> Value {
    json!({
        "event": counts.event,
        "by": "site_visit",
        "rows": counts.lines.iter().map(visit_line).collect::<Vec<_>>(),
        "total": visit_line(&counts.total),
    })
}
