//! The QR code of a check-in code, drawn once for every place that shows it: inline SVG
//! markup for the manage page (no image request, nothing the strict CSP must allow) and a
//! PNG for emails (sent as an inline part referenced by `cid:`, which mail clients show
//! where they block `data:` images and SVG).
//!
//! A leaf like `i18n`: the edge (pages) and the mail renderer both draw with it, and it
//! knows nothing else of the crate. The code itself comes from the domain
//! (`access::ManageKey::checkin_code_for`): 20 characters of `A`–`Z` and `2`–`7`.
//!
//! The symbol is the least dense there is, so a phone camera in a coach's doorway reads it
//! at arm's length: alphanumeric mode (5.5 bits a character, where byte mode would take 8),
//! version 1 (21 × 21 modules) and error-correction level M, which holds exactly 20
//! alphanumeric characters in version 1 and survives about 15% of the symbol being
//! smudged or folded. The quiet zone is the 4 modules the standard asks for.

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

/// Light modules around the symbol, on every side (ISO/IEC 18004 asks for 4).
pub const QUIET_ZONE: usize = 4;

/// Pixels per module in the PNG: 29 modules × 8 = 232 px, crisp at its natural size and
/// when a mail client scales it.
pub const PNG_SCALE: usize = 8;

/// The symbol's version: 1, 21 × 21 modules.
pub const VERSION: i16 = 1;

#[derive(Debug, thiserror::Error)]
#[error("cannot draw a QR code: {0}")]
pub struct QrError(String);

/// A check-in code's QR symbol: its dark modules, quiet zone not included.
pub struct CheckinQr {
    width: usize,
    dark: Vec<bool>,
}

impl CheckinQr {
    /// The symbol of `code`, in alphanumeric mode, version 1, level M. Anything but
    /// upper-case letters and digits, or more than 20 of them, is refused rather than
    /// drawn in a denser symbol (the encoder itself would write any other byte as `0`).
    pub fn new(code: &str) -> Result<Self, QrError> {
        if !code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(QrError("a check-in code is upper-case letters and digits".into()));
        }
        let fail = |e: qrcode::types::QrError| QrError(format!("{e:?}"));
        let mut bits = Bits::new(Version::Normal(VERSION));
        bits.push_alphanumeric_data(code.as_bytes()).map_err(fail)?;
        bits.push_terminator(EcLevel::M).map_err(fail)?;
        let symbol = QrCode::with_bits(bits, EcLevel::M).map_err(fail)?;
        Ok(Self {
            width: symbol.width(),
            dark: symbol.to_colors().into_iter().map(|c| c == Color::Dark).collect(),
        })
    }

    /// Modules along one side, quiet zone not included (21 for version 1).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Modules along one side with the quiet zone on both sides.
    pub fn size(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }

    /// The symbol as an `<svg>` element to put in a page as it is: one path of the dark
    /// modules (a run of dark modules in a row is one rectangle) on a white square that
    /// includes the quiet zone, so that it scans on a dark theme too. Presentation
    /// attributes only, no `style`: the pages' CSP allows no inline style. `title` is its
    /// accessible name (escaped here).
    pub fn svg(&self, title: &str) -> String {
        let size = self.size();
        let mut path = String::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.width && self.is_dark(x, y) {
                    x += 1;
                }
                let run = x - start;
                path.push_str(&format!(
                    "M{} {}h{run}v1h-{run}z",
                    start + QUIET_ZONE,
                    y + QUIET_ZONE
                ));
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"checkin-qr\" viewBox=\"0 0 {size} {size}\" \
             width=\"{px}\" height=\"{px}\" role=\"img\" aria-label=\"{title}\" shape-rendering=\"crispEdges\">\
             <title>{title}</title>\
             <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
             <path fill=\"#000\" d=\"{path}\"/></svg>",
            px = size * PNG_SCALE,
            title = escape(title),
        )
    }

    /// The symbol as a 1-bit greyscale PNG, [`PNG_SCALE`] pixels a module, quiet zone
    /// included: about 300 bytes.
    pub fn png(&self) -> Result<Vec<u8>, QrError> {
        let side = self.size() * PNG_SCALE;
        let row_bytes = side.div_ceil(8);
        // 1 is white in a greyscale PNG; the quiet zone and the padding bits stay white.
        let mut pixels = vec![0xffu8; row_bytes * side];
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = (x / PNG_SCALE, y / PNG_SCALE);
                let inside = (QUIET_ZONE..QUIET_ZONE + self.width).contains(&mx)
                    && (QUIET_ZONE..QUIET_ZONE + self.width).contains(&my);
                if inside && self.is_dark(mx - QUIET_ZONE, my - QUIET_ZONE) {
                    pixels[y * row_bytes + x / 8] &= !(0x80 >> (x % 8));
                }
            }
        }
        let fail = |e: png::EncodingError| QrError(e.to_string());
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(&pixels).map_err(fail)?;
        writer.finish().map_err(fail)?;
        Ok(out)
    }
}

/// A check-in code as people read it: groups of 4 (`ABCD EFGH …`). Scanners and the
/// check-in API take it with or without the spaces.
pub fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|group| String::from_utf8_lossy(group).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "ABCDEFGHIJKLMNOPQR27";

    /// The PNG's size and its pixels as 8-bit grey (0 black, 255 white).
    fn decode_png(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        pixels.truncate(info.buffer_size());
        (info, pixels)
    }

    fn read_qr(width: usize, height: usize, grey: &[u8]) -> (rqrr::MetaData, String) {
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| grey[y * width + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        grids[0].decode().expect("the QR code decodes")
    }

    #[test]
    fn the_png_is_a_version_1_symbol_with_its_quiet_zone_and_reads_back() {
        let qr = CheckinQr::new(CODE).unwrap();
        assert_eq!(qr.width(), 21, "version 1");
        let bytes = qr.png().unwrap();
        assert!(bytes.len() < 1024, "{} bytes", bytes.len());
        let (info, grey) = decode_png(&bytes);
        let side = (21 + 2 * QUIET_ZONE) * PNG_SCALE;
        assert_eq!((info.width as usize, info.height as usize), (side, side));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let quiet = QUIET_ZONE * PNG_SCALE;
        for y in 0..side {
            for x in 0..side {
                let in_margin = x < quiet || y < quiet || x >= side - quiet || y >= side - quiet;
                if in_margin {
                    assert_eq!(grey[y * side + x], 255, "quiet zone at ({x}, {y})");
                }
            }
        }
        // The finder pattern's top-left module is dark: the symbol starts where the
        // quiet zone ends.
        assert_eq!(grey[quiet * side + quiet], 0);
        let (meta, text) = read_qr(side, side, &grey);
        assert_eq!(text, CODE);
        assert_eq!(meta.version.0, 1);
        // The format information's level bits: M is 0b00.
        assert_eq!(meta.ecc_level, 0, "level M");
    }

    #[test]
    fn codes_are_encoded_in_alphanumeric_mode() {
        // Byte mode would need 4 + 8 + 20 × 8 = 172 bits; version 1-M holds 128. Only
        // alphanumeric mode (4 + 9 + 110 = 123 bits) fits the code in version 1.
        let mut bits = Bits::new(Version::Normal(1));
        assert!(bits.push_byte_data(CODE.as_bytes()).is_ok());
        assert!(
            bits.push_terminator(EcLevel::M).is_err(),
            "byte mode does not fit"
        );
        let drawn = CheckinQr::new(CODE).unwrap();
        let auto = QrCode::with_version(CODE, Version::Normal(1), EcLevel::M).unwrap();
        let dark: Vec<bool> = auto.to_colors().into_iter().map(|c| c == Color::Dark).collect();
        assert_eq!(drawn.dark, dark);
        // Lower case is not in the alphanumeric set: refused, not drawn denser.
        assert!(CheckinQr::new("abcdefghijklmnopqr27").is_err());
        assert!(CheckinQr::new("ABCDEFGHIJKLMNOPQR27X").is_err(), "21 characters");
    }

    #[test]
    fn the_svg_draws_the_same_modules_without_inline_style() {
        let qr = CheckinQr::new(CODE).unwrap();
        let svg = qr.svg("QR code <of> \"you\"");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert!(svg.contains("viewBox=\"0 0 29 29\""), "{svg}");
        assert!(svg.contains("<title>QR code &lt;of&gt; &quot;you&quot;</title>"));
        assert!(!svg.contains("style="), "the CSP allows no inline style");
        // Rasterise the path (rectangles of one row each) and compare with the matrix.
        let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let mut painted = vec![false; 29 * 29];
        for rect in d.split('M').filter(|r| !r.is_empty()) {
            let numbers: Vec<usize> = rect
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect();
            let (x, y, run) = (numbers[0], numbers[1], numbers[2]);
            for dx in 0..run {
                painted[y * 29 + x + dx] = true;
            }
        }
        for y in 0..29 {
            for x in 0..29 {
                let inside = (4..25).contains(&x) && (4..25).contains(&y);
                let dark = inside && qr.is_dark(x - 4, y - 4);
                assert_eq!(painted[y * 29 + x], dark, "({x}, {y})");
            }
        }
    }

    #[test]
    fn codes_are_grouped_in_fours_for_reading() {
        assert_eq!(grouped(CODE), "ABCD EFGH IJKL MNOP QR27");
        assert_eq!(grouped("ABCDE"), "ABCD E");
    }
}
