//! The overview of one event, read at a glance by organisers: every visit's numbers, the
//! registrations per day, the counts by country and how many confirmed people hold no
//! seat. Every part is a count or a grouped query — nothing per person — so the page
//! costs the same for 100 people or 10,000.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::db::DbConnection;
use crate::domain::catalog::{self, EventView};
use crate::domain::error::DomainError;
use crate::domain::event_rules::{event_timezone, find_event, local_time};
use crate::domain::exports::{self, CountryCounts};
use crate::store::registration_stats;
use crate::store::registrations::{self, RegistrationFilter};

/// Active registrations made on one day of the event's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub day: NaiveDate,
    pub registered: i64,
}

#[derive(Clone, Debug)]
pub struct Overview {
    pub event: EventView,
    /// The same numbers as the counts export by country.
    pub countries: CountryCounts,
    /// Confirmed people without a seat (the "without a seat" page lists them).
    pub without_seat: i64,
    /// Days with at least one registration still active, earliest first.
    pub by_day: Vec<DayCount>,
}

/// The event's overview, read in one transaction so that its numbers agree.
pub fn overview(
    conn: &mut DbConnection,
    event_slug: &str,
    now: NaiveDateTime,
) -> Result<Overview, DomainError> {
    let event_view = catalog::event_view(conn, event_slug, now)?;
    let countries = exports::counts_by_country(conn, event_slug)?;
    let event = find_event(conn, event_slug)?;
    let without_seat = registrations::count(
        conn,
        &event.id,
        &RegistrationFilter {
            without_seat: true,
            ..RegistrationFilter::default()
        },
    )?;
    let tz = event_timezone(&event);
    let hours = registration_stats::registered_by_hour(conn, &event.id)?;
    Ok(Overview {
        event: event_view,
        countries,
        without_seat,
        by_day: days_of(
            hours
                .into_iter()
                .map(|(hour, n)| (local_time(tz, hour).date_naive(), n)),
        ),
    })
}

/// Sums counts given in time order by day.
fn days_of(counts: impl Iterator<Item = (NaiveDate, i64)>) -> Vec<DayCount> {
    let mut days: Vec<DayCount> = Vec::new();
    for (day, registered) in counts {
        match days.last_mut() {
            Some(last) if last.day == day => last.registered += registered,
            _ => days.push(DayCount { day, registered }),
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_of_one_local_day_add_up() {
        let d = |n| NaiveDate::from_ymd_opt(2024, 11, n).unwrap();
        let days = days_of([(d(1), 2), (d(1), 3), (d(3), 1)].into_iter());
        assert_eq!(
            days,
            vec![
                DayCount {
                    day: d(1),
                    registered: 5
                },
                DayCount {
                    day: d(3),
                    registered: 1
                },
            ]
        );
    }
}
