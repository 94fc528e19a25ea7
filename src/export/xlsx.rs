//! XLSX workbooks (rust_xlsxwriter): a bold header row, frozen panes, counts as number
//! cells, text neutralised against formulas like the CSV.
//!
//! The attendee workbook uses the writer's constant-memory mode: each row goes to a
//! temporary file as soon as it is written, and the zip is produced from there when the
//! workbook is finished, so memory stays flat however many people the event has.

use std::io::Write;

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::{attendee_cells, neutralise, Cell, Table, ATTENDEE_COLUMNS};
use crate::domain::exports::Attendee;

/// Rows a worksheet can hold (Excel's limit), the header included.
pub const MAX_ROWS: i64 = 1_048_576;

fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[Cell],
    format: Option<&Format>,
) -> Result<(), XlsxError> {
    for (col, cell) in cells.iter().enumerate() {
        let col = col as u16;
        match (cell, format) {
            (Cell::Text(text), None) => sheet.write_string(row, col, neutralise(text))?,
            (Cell::Text(text), Some(format)) => {
                sheet.write_string_with_format(row, col, neutralise(text), format)?
            }
            (Cell::Number(n), None) => sheet.write_number(row, col, *n as f64)?,
            (Cell::Number(n), Some(format)) => sheet.write_number_with_format(row, col, *n as f64, format)?,
            (Cell::Empty, _) => sheet,
        };
    }
    Ok(())
}

fn header_cells(columns: &[String]) -> Vec<Cell> {
    columns.iter().map(|c| Cell::Text(c.clone())).collect()
}

/// A one-sheet workbook of `table`; the last row (the total) is bold like the header.
pub fn table(table: &Table, sheet_name: &str) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name)?;
    write_row(sheet, 0, &header_cells(&table.columns), Some(&bold))?;
    let last = table.rows.len();
    for (index, row) in table.rows.iter().enumerate() {
        let format = (index + 1 == last).then_some(&bold);
        write_row(sheet, index as u32 + 1, row, format)?;
    }
    sheet.set_freeze_panes(1, table.key_columns)?;
    sheet.autofit();
    workbook.save_to_buffer()
}

/// The attendee list, written a page at a time, then [`AttendeeWorkbook::finish`]ed
/// into any writer (a file, or an HTTP body).
pub struct AttendeeWorkbook {
    workbook: Workbook,
    next_row: u32,
}

impl AttendeeWorkbook {
    /// The fixed columns, then `answer_columns` (`AttendeeCursor::answer_columns`).
    pub fn new(answer_columns: &[String]) -> Result<Self, XlsxError> {
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        let sheet = workbook.add_worksheet_with_constant_memory();
        sheet.set_name("Attendees")?;
        // Widths are set up front: autofit needs every row, which constant memory drops.
        let widths = [
            38.0, 16.0, 18.0, 30.0, 30.0, 8.0, 18.0, 11.0, 10.0, 24.0, 11.0, 10.0, 26.0,
        ];
        for (col, width) in widths.into_iter().enumerate() {
            sheet.set_column_width(col as u16, width)?;
        }
        let columns: Vec<String> = ATTENDEE_COLUMNS
            .map(String::from)
            .into_iter()
            .chain(answer_columns.iter().cloned())
            .collect();
        write_row(sheet, 0, &header_cells(&columns), Some(&bold))?;
        sheet.set_freeze_panes(1, 3)?;
        Ok(Self {
            workbook,
            next_row: 1,
        })
    }

    pub fn append(&mut self, attendees: &[Attendee]) -> Result<(), XlsxError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for attendee in attendees {
            write_row(sheet, self.next_row, &attendee_cells(attendee), None)?;
            self.next_row += 1;
        }
        Ok(())
    }

    pub fn finish<W: Write + Send>(mut self, writer: W) -> Result<(), XlsxError> {
        self.workbook.save_to_writer(writer)
    }
}
