//! The counts as JSON: the same numbers as the CSV, with the per-visit seats of a
//! country as an object keyed by visit slug. JSON is data, not a spreadsheet: nothing is
//! neutralised here. The types below are what is serialised and what the OpenAPI
//! document describes: one home for the shape.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::exports::{CountryCounts, CountryLine, Counts, VisitCounts, VisitLine};

/// A by-country line; `country` is `TOTAL` on the total line.
#[derive(Serialize, ToSchema)]
pub struct CountryCountsLine {
    pub country: String,
    /// Empty on the total line.
    pub country_name: String,
    pub registered: i64,
    pub assigned: i64,
    pub waitlisted: i64,
    /// Open offers held by this country's people.
    pub offered: i64,
    /// Seats this country's people hold, per visit slug.
    pub site_visits: BTreeMap<String, i64>,
}

/// Counts by country (`format=json`).
#[derive(Serialize, ToSchema)]
pub struct CountsByCountry {
    pub event: String,
    #[schema(pattern = "^country$")]
    pub by: &'static str,
    /// Visit slugs in display order.
    pub site_visits: Vec<String>,
    pub rows: Vec<CountryCountsLine>,
    pub total: CountryCountsLine,
}

/// Counts by site visit (`format=json`).
#[derive(Serialize, ToSchema)]
pub struct CountsBySiteVisit {
    pub event: String,
    #[schema(pattern = "^site_visit$")]
    pub by: &'static str,
    pub rows: Vec<VisitLine>,
    pub total: VisitLine,
}

/// The counts as JSON, by country or by site visit.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum CountsDocument {
    ByCountry(CountsByCountry),
    BySiteVisit(CountsBySiteVisit),
}

pub fn counts(counts: &Counts) -> CountsDocument {
    match counts {
        Counts::ByCountry(counts) => CountsDocument::ByCountry(by_country(counts)),
        Counts::BySiteVisit(counts) => CountsDocument::BySiteVisit(by_site_visit(counts)),
    }
}

fn country_line(visits: &[String], line: &CountryLine) -> CountryCountsLine {
    CountryCountsLine {
        country: line.country.clone(),
        country_name: line.country_name.clone(),
        registered: line.registered,
        assigned: line.assigned,
        waitlisted: line.waitlisted,
        offered: line.offered,
        site_visits: visits
            .iter()
            .cloned()
            .zip(line.per_visit.iter().copied())
            .collect(),
    }
}

fn by_country(counts: &CountryCounts) -> CountsByCountry {
    CountsByCountry {
        event: counts.event.clone(),
        by: "country",
        site_visits: counts.visits.clone(),
        rows: counts
            .lines
            .iter()
            .map(|l| country_line(&counts.visits, l))
            .collect(),
        total: country_line(&counts.visits, &counts.total),
    }
}

fn by_site_visit(counts: &VisitCounts) -> CountsBySiteVisit {
    CountsBySiteVisit {
        event: counts.event.clone(),
        by: "site_visit",
        rows: counts.lines.clone(),
        total: counts.total.clone(),
    }
}
