//! CSV: UTF-8 with a byte-order mark (so spreadsheets read accents right), a header
//! line, fields quoted when they need it, text neutralised against formulas.

use super::{attendee_cells, neutralise, Cell, Table, ATTENDEE_COLUMNS};
use crate::domain::exports::Attendee;

/// The UTF-8 byte-order mark that tells Excel the file is UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

fn writer() -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn write_cells(writer: &mut ::csv::Writer<Vec<u8>>, cells: &[Cell]) {
    let fields = cells.iter().map(|cell| match cell {
        Cell::Text(text) => neutralise(text).into_owned(),
        Cell::Number(n) => n.to_string(),
        Cell::Empty => String::new(),
    });
    writer
        .write_record(fields)
        .expect("writing CSV into memory cannot fail");
}

fn finish(writer: ::csv::Writer<Vec<u8>>) -> Vec<u8> {
    writer.into_inner().expect("writing CSV into memory cannot fail")
}

fn header(columns: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut writer = writer();
    let cells: Vec<Cell> = columns.into_iter().map(Cell::Text).collect();
    write_cells(&mut writer, &cells);
    let mut bytes = BOM.to_vec();
    bytes.extend(finish(writer));
    bytes
}

/// A whole table, BOM and header first.
pub fn table(table: &Table) -> Vec<u8> {
    let mut bytes = header(table.columns.iter().cloned());
    let mut writer = writer();
    for row in &table.rows {
        write_cells(&mut writer, row);
    }
    bytes.extend(finish(writer));
    bytes
}

/// The start of the attendee list: BOM and header.
pub fn attendee_header() -> Vec<u8> {
    header(ATTENDEE_COLUMNS.map(String::from))
}

/// Lines of the attendee list, to follow the header.
pub fn attendee_lines(attendees: &[Attendee]) -> Vec<u8> {
    let mut writer = writer();
    for attendee in attendees {
        write_cells(&mut writer, &attendee_cells(attendee));
    }
    finish(writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_quoted_and_neutralised_numbers_are_not() {
        let table = Table {
            columns: vec!["name".into(), "n".into()],
            rows: vec![
                vec![Cell::Text("=cmd|' /C calc'!A0".into()), Cell::Number(-3)],
                vec![Cell::Text("Ana, \"Ž\"".into()), Cell::Empty],
            ],
            key_columns: 1,
        };
        let text = String::from_utf8(super::table(&table)).unwrap();
        assert_eq!(
            text,
            "\u{feff}name,n\r\n'=cmd|' /C calc'!A0,-3\r\n\"Ana, \"\"Ž\"\"\",\r\n"
        );
    }
}
