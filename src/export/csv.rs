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

/// The start of the attendee list: BOM and header, the fixed columns then
/// `answer_columns` (`AttendeeCursor::answer_columns`).
pub fn attendee_header(answer_columns: &[String]) -> Vec<u8> {
    header(
        ATTENDEE_COLUMNS
            .map(String::from)
            .into_iter()
            .chain(answer_columns.iter().cloned()),
    )
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

    /// The fields a spreadsheet set to `separator` reads from the file.
    fn fields_split_by(bytes: &[u8], separator: u8) -> Vec<String> {
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(separator)
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        reader
            .byte_records()
            .flat_map(|record| {
                let record = record.unwrap();
                record
                    .iter()
                    .map(|field| String::from_utf8_lossy(field).into_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn no_field_starts_with_a_trigger_whatever_the_separator() {
        let risky = [
            "x;=1+1",
            "=1+1",
            "Ana;+32 2",
            "a,b;-c",
            "x\t@SUM(A1)",
            "no nuts\n=1+1",
            "no nuts\r\n@x",
            "a;\"=1",
            "a;\"\"=HYPERLINK(1)",
            "\"=q\"",
            "x;",
            "-x@example.org",
            "1;\t=2",
        ];
        let table = Table {
            columns: vec!["id".into(), "text".into(), "other".into()],
            rows: risky
                .iter()
                .map(|text| {
                    vec![
                        Cell::Text("id".into()),
                        Cell::Text((*text).into()),
                        Cell::Text("=z".into()),
                    ]
                })
                .collect(),
            key_columns: 1,
        };
        let bytes = super::table(&table);
        for separator in [b',', b';', b'\t'] {
            for field in fields_split_by(&bytes, separator) {
                assert!(
                    !field.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{:?} starts a field when split by {:?}",
                    field,
                    separator as char
                );
            }
        }
        // Split by the file's own separator, the texts are the data with a `'` added.
        let by_comma = fields_split_by(&bytes, b',');
        assert_eq!(by_comma[4], "x;'=1+1");
        assert_eq!(by_comma[7], "'=1+1");
    }
}
