//! The overview's chart of registrations over time, drawn on the server as SVG
//! coordinates for the template: no script, no inline style (the strict CSP), only
//! presentation attributes and the stylesheet's classes.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::domain::organiser::DayCount;
use crate::i18n::Lang;

/// The drawing area, in SVG user units (the image scales to the column's width).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 624.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 188.0;

#[derive(Serialize)]
pub(super) struct CapacityLine {
    value: i32,
    y: String,
}

/// A day with registrations and the running total, for the table beside the chart.
#[derive(Serialize)]
pub(super) struct DayRow {
    day: String,
    registered: i64,
    cumulative: i64,
}

#[derive(Serialize)]
pub(super) struct Chart {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    /// `points` of the cumulative line, the day before the first registration at 0.
    line: String,
    /// The same line closed along the axis, to shade the area under it.
    area: String,
    capacity: Option<CapacityLine>,
    total: i64,
    y_max: i64,
    first_day: String,
    last_day: String,
    /// What the chart shows, in one sentence (its accessible name).
    summary: String,
    days: Vec<DayRow>,
}

impl Chart {
    /// The cumulative registrations by day, with the event's capacity as a line when it
    /// has one, its words in `lang`; `None` before the first registration.
    pub(super) fn of_registrations(days: &[DayCount], capacity: Option<i32>, lang: Lang) -> Option<Self> {
        let label = |day: NaiveDate| lang.short_date(day);
        let first = days.first()?.day;
        let last = days.last()?.day;
        let total: i64 = days.iter().map(|d| d.registered).sum();
        let y_max = total.max(i64::from(capacity.unwrap_or(0))).max(1);
        let span = (last - first).num_days().max(0) as usize + 1;
        let x = |i: usize| LEFT + (RIGHT - LEFT) * i as f64 / span as f64;
        let y = |n: i64| BOTTOM - (BOTTOM - TOP) * n as f64 / y_max as f64;
        // Days without registrations keep the running total: one point per calendar day.
        let mut points = vec![format!("{:.1},{:.1}", x(0), y(0))];
        let mut rows = Vec::with_capacity(days.len());
        let mut running = 0;
        let mut next = days.iter().peekable();
        for i in 0..span {
            let day = first + Days::new(i as u64);
            if let Some(count) = next.next_if(|d| d.day == day) {
                running += count.registered;
                rows.push(DayRow {
                    day: day.format("%Y-%m-%d").to_string(),
                    registered: count.registered,
                    cumulative: running,
                });
            }
            points.push(format!("{:.1},{:.1}", x(i + 1), y(running)));
        }
        let line = points.join(" ");
        let area = format!("{line} {:.1},{BOTTOM:.1} {:.1},{BOTTOM:.1}", x(span), x(0));
        let summary = format!(
            "{}{}",
            lang.fill(
                "board.chart_summary",
                &[
                    ("total", &total),
                    ("first", &label(first)),
                    ("last", &label(last))
                ],
            ),
            capacity.map_or(String::new(), |c| lang.fill("board.chart_capacity", &[("n", &c)])),
        );
        Some(Self {
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            right: RIGHT,
            top: TOP,
            bottom: BOTTOM,
            line,
            area,
            capacity: capacity.map(|value| CapacityLine {
                value,
                y: format!("{:.1}", y(i64::from(value))),
            }),
            total,
            y_max,
            first_day: label(first),
            last_day: label(last),
            summary,
            days: rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u32, registered: i64) -> DayCount {
        DayCount {
            day: NaiveDate::from_ymd_opt(2024, 11, n).unwrap(),
            registered,
        }
    }

    #[test]
    fn no_registrations_no_chart() {
        assert!(Chart::of_registrations(&[], Some(10), Lang::En).is_none());
    }

    #[test]
    fn the_line_climbs_day_by_day_to_the_total() {
        let chart = Chart::of_registrations(&[day(1, 2), day(3, 2)], None, Lang::En).unwrap();
        assert_eq!(chart.total, 4);
        // 0 before the first day, then days 1, 2 (no one: flat) and 3.
        assert_eq!(chart.line, "48.0,188.0 240.0,102.0 432.0,102.0 624.0,16.0");
        assert_eq!(chart.days.len(), 2);
        assert_eq!(chart.days[1].cumulative, 4);
        assert!(chart.capacity.is_none());
    }

    #[test]
    fn the_capacity_sets_the_scale_when_higher() {
        let chart = Chart::of_registrations(&[day(1, 5)], Some(10), Lang::En).unwrap();
        assert_eq!(chart.y_max, 10);
        assert_eq!(chart.capacity.as_ref().unwrap().y, "16.0");
        assert_eq!(chart.line, "48.0,188.0 624.0,102.0");
        assert!(chart
            .summary
            .contains("5 from 1 Nov 2024 to 1 Nov 2024, event capacity 10"));
        let french = Chart::of_registrations(&[day(1, 5), day(3, 1)], Some(10), Lang::Fr).unwrap();
        assert_eq!(
            french.summary,
            "Inscriptions au fil du temps : 6 du 1er nov. 2024 au 3 nov. 2024, capacité de l'événement 10"
        );
        assert_eq!(french.first_day, "1er nov. 2024");
    }
}
