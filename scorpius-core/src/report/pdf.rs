//! PDF rendering of reports (feature `pdf`), for auditors and boards: a title page with the
//! target, chain, date, engine and dataset versions and the risk score drawn as a gauge; a
//! severity bar chart; every finding with its evidence and recommendation; an approval
//! inventory when the report carries one; "page N of M" on every page.
//!
//! Text is set in DejaVu Sans (embedded: Latin, Greek, Cyrillic and more; the PDF base-14
//! fonts cannot show non-ASCII text). Characters the font lacks become U+FFFD. Long words
//! (addresses, hashes, calldata) are broken anywhere so they never run off the page.

use std::sync::OnceLock;

use printpdf::{
    Color, FontId, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Polygon, PolygonRing, Pt, Rect, Rgb, TextItem, WindingOrder,
};
use serde_json::Value;

use crate::model::{Finding, RiskLevel, ScanReport, ScanStatus, Severity};
use crate::report::text::location_label;

/// DejaVu Sans 2.37 (Bitstream Vera licence + public-domain changes; see
/// `scorpius-core/assets/fonts/LICENSE-DejaVu.txt`).
const FONT_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Why a PDF could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// The embedded font could not be parsed (a build problem, not an input problem).
    #[error("the embedded PDF font could not be loaded")]
    Font,
    /// Nothing to render.
    #[error("no reports to render")]
    Empty,
}

fn font() -> Option<&'static ParsedFont> {
    static FONT: OnceLock<Option<ParsedFont>> = OnceLock::new();
    FONT.get_or_init(|| ParsedFont::from_bytes(FONT_TTF, 0, &mut Vec::new())).as_ref()
}

// A4 portrait, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 50.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const TOP: f32 = PAGE_H - MARGIN;
const BOTTOM: f32 = MARGIN + 20.0;

fn rgb(r: f32, g: f32, b: f32) -> Color {
    Color::Rgb(Rgb { r, g, b, icc_profile: None })
}

const BLACK: (f32, f32, f32) = (0.1, 0.1, 0.1);
const GREY: (f32, f32, f32) = (0.4, 0.4, 0.4);
const LIGHT: (f32, f32, f32) = (0.92, 0.92, 0.92);
const WHITE: (f32, f32, f32) = (1.0, 1.0, 1.0);

fn severity_colour(s: Severity) -> (f32, f32, f32) {
    match s {
        Severity::Critical => (0.55, 0.0, 0.0),
        Severity::High => (0.85, 0.28, 0.06),
        Severity::Medium => (0.91, 0.64, 0.0),
        Severity::Low => (0.11, 0.49, 0.84),
        Severity::Info => (0.42, 0.46, 0.49),
    }
}

fn level_colour(l: RiskLevel) -> (f32, f32, f32) {
    match l {
        RiskLevel::None => (0.17, 0.54, 0.24),
        RiskLevel::Low => severity_colour(Severity::Low),
        RiskLevel::Medium => severity_colour(Severity::Medium),
        RiskLevel::High => severity_colour(Severity::High),
        RiskLevel::Critical => severity_colour(Severity::Critical),
    }
}

/// Lays text and shapes out on pages.
struct Layout<'f> {
    font: &'f ParsedFont,
    font_id: FontId,
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// Top of the free space on the current page.
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(font: &'f ParsedFont, font_id: FontId) -> Self {
        Layout { font, font_id, pages: Vec::new(), ops: Vec::new(), y: TOP }
    }

    /// Width of `s` at `size` points.
    fn width(&self, s: &str, size: f32) -> f32 {
        let upem = f32::from(self.font.units_per_em.max(1));
        let units: u32 = s
            .chars()
            .map(|c| {
                let gid = self.font.lookup_glyph_index(c as u32).unwrap_or(0);
                u32::from(self.font.get_glyph_width(gid).unwrap_or(0))
            })
            .sum();
        units as f32 / upem * size
    }

    /// Replaces what the font cannot draw: control characters by spaces, unknown characters
    /// by U+FFFD.
    fn clean(&self, s: &str) -> String {
        s.chars()
            .map(|c| {
                if c.is_control() {
                    ' '
                } else if self.font.lookup_glyph_index(c as u32).is_some_and(|g| g != 0) {
                    c
                } else {
                    '\u{FFFD}'
                }
            })
            .collect()
    }

    /// Breaks `text` into lines no wider than `max`: at spaces where possible, anywhere
    /// inside a word that is itself too wide (hex strings, URLs).
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let text = self.clean(text);
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for word in para.split(' ').filter(|w| !w.is_empty()) {
                let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
                if self.width(&candidate, size) <= max {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                if self.width(word, size) <= max {
                    line = word.to_owned();
                    continue;
                }
                // Break the word anywhere.
                for c in word.chars() {
                    let mut next = line.clone();
                    next.push(c);
                    if self.width(&next, size) > max && !line.is_empty() {
                        lines.push(std::mem::replace(&mut line, c.to_string()));
                    } else {
                        line = next;
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    fn new_page(&mut self) {
        let ops = std::mem::take(&mut self.ops);
        self.pages.push(ops);
        self.y = TOP;
    }

    fn finish_page(&mut self) {
        if !self.ops.is_empty() {
            self.new_page();
        }
    }

    /// Makes room for `h` points, starting a new page if needed.
    fn need(&mut self, h: f32) {
        if self.y - h < BOTTOM {
            self.new_page();
        }
    }

    fn text_at(&mut self, x: f32, baseline: f32, s: &str, size: f32, colour: (f32, f32, f32)) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::External(self.font_id.clone()), size: Pt(size) },
            Op::SetFillColor { col: rgb(colour.0, colour.1, colour.2) },
            Op::SetTextCursor { pos: Point { x: Pt(x), y: Pt(baseline) } },
            Op::ShowText { items: vec![TextItem::Text(s.to_owned())] },
            Op::EndTextSection,
        ]);
    }

    /// A wrapped paragraph at indent `x` (from the margin).
    fn para(&mut self, text: &str, size: f32, colour: (f32, f32, f32), x: f32) {
        let lh = size * 1.35;
        for line in self.wrap(text, size, CONTENT_W - x) {
            self.need(lh);
            self.y -= lh;
            self.text_at(MARGIN + x, self.y + size * 0.25, &line, size, colour);
        }
    }

    /// `label: value` with the value wrapped beside the label.
    fn field(&mut self, label: &str, value: &str, size: f32, x: f32) {
        let label_w = 110.0;
        let lh = size * 1.35;
        let lines = self.wrap(value, size, CONTENT_W - x - label_w);
        for (i, line) in lines.iter().enumerate() {
            self.need(lh);
            self.y -= lh;
            if i == 0 {
                let label = self.clean(label);
                self.text_at(MARGIN + x, self.y + size * 0.25, &label, size, GREY);
            }
            self.text_at(MARGIN + x + label_w, self.y + size * 0.25, line, size, BLACK);
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, colour: (f32, f32, f32)) {
        self.ops.push(Op::SetFillColor { col: rgb(colour.0, colour.1, colour.2) });
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(w),
                height: Pt(h),
                mode: Some(PaintMode::Fill),
                winding_order: Some(WindingOrder::NonZero),
            },
        });
    }

    fn triangle(&mut self, points: [(f32, f32); 3], colour: (f32, f32, f32)) {
        self.ops.push(Op::SetFillColor { col: rgb(colour.0, colour.1, colour.2) });
        self.ops.push(Op::DrawPolygon {
            polygon: Polygon {
                rings: vec![PolygonRing {
                    points: points
                        .iter()
                        .map(|&(x, y)| LinePoint { p: Point { x: Pt(x), y: Pt(y) }, bezier: false })
                        .collect(),
                }],
                mode: PaintMode::Fill,
                winding_order: WindingOrder::NonZero,
            },
        });
    }

    fn heading(&mut self, text: &str, size: f32) {
        self.need(size * 2.5);
        self.gap(size * 0.6);
        self.para(text, size, BLACK, 0.0);
        self.gap(size * 0.3);
    }
}

fn evidence_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn status_text(r: &ScanReport) -> String {
    match &r.status {
        ScanStatus::Complete => "complete".to_owned(),
        ScanStatus::Incomplete { reason } => {
            format!("INCOMPLETE: {reason} (findings are a lower bound, not a clean bill)")
        }
    }
}

fn date_text(r: &ScanReport) -> String {
    let t = r.started_at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The risk gauge: a bar in four bands with a marker at the score.
fn gauge(l: &mut Layout<'_>, r: &ScanReport) {
    let size = 22.0;
    l.need(120.0);
    l.gap(size * 1.4);
    let level = r.risk.level;
    let title = format!("Risk {}/100 — {}", r.risk.score, level.as_str().to_uppercase());
    l.text_at(MARGIN, l.y, &title, size, level_colour(level));
    l.gap(40.0);
    let (x0, h) = (MARGIN, 18.0);
    let y = l.y;
    let bands = [
        (0.0, 25.0, RiskLevel::Low),
        (25.0, 50.0, RiskLevel::Medium),
        (50.0, 80.0, RiskLevel::High),
        (80.0, 100.0, RiskLevel::Critical),
    ];
    for (from, to, lvl) in bands {
        let (cr, cg, cb) = level_colour(lvl);
        // Bands beyond the score are shown faded.
        let fade = if f32::from(r.risk.score) >= from { 0.0 } else { 0.65 };
        let c = (cr + (1.0 - cr) * fade, cg + (1.0 - cg) * fade, cb + (1.0 - cb) * fade);
        l.rect(x0 + CONTENT_W * from / 100.0, y, CONTENT_W * (to - from) / 100.0, h, c);
    }
    let mx = x0 + CONTENT_W * f32::from(r.risk.score.min(100)) / 100.0;
    l.triangle([(mx - 7.0, y + h + 12.0), (mx + 7.0, y + h + 12.0), (mx, y + h + 1.0)], BLACK);
    l.rect(mx - 1.0, y - 4.0, 2.0, h + 5.0, BLACK);
    for (v, label) in [(0.0, "0"), (25.0, "25"), (50.0, "50"), (80.0, "80"), (100.0, "100")] {
        let w = l.width(label, 8.0);
        l.text_at(x0 + CONTENT_W * v / 100.0 - w / 2.0, y - 14.0, label, 8.0, GREY);
    }
    l.y = y - 24.0;
}

/// Horizontal bars, one per severity, proportional to the number of findings.
fn severity_chart(l: &mut Layout<'_>, r: &ScanReport) {
    l.heading("Findings by severity", 14.0);
    let counts = r.severity_counts();
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let label_w = 70.0;
    let bar_max = CONTENT_W - label_w - 50.0;
    for (sev, n) in counts {
        l.need(22.0);
        l.gap(22.0);
        let y = l.y;
        l.text_at(MARGIN, y + 4.0, &sev.as_str().to_uppercase(), 10.0, BLACK);
        l.rect(MARGIN + label_w, y, bar_max, 14.0, LIGHT);
        let w = bar_max * n as f32 / max as f32;
        if n > 0 {
            l.rect(MARGIN + label_w, y, w.max(2.0), 14.0, severity_colour(sev));
        }
        l.text_at(MARGIN + label_w + w.max(2.0) + 6.0, y + 4.0, &n.to_string(), 10.0, BLACK);
    }
    l.gap(8.0);
}

fn title_page(l: &mut Layout<'_>, r: &ScanReport) {
    l.gap(10.0);
    l.para("Scorpius security report", 26.0, BLACK, 0.0);
    l.gap(4.0);
    l.para(&format!("{} scan", r.kind.as_str()), 14.0, GREY, 0.0);
    l.gap(14.0);
    l.field("Target", &r.target, 11.0, 0.0);
    l.field("Chain", &format!("{} (chain id {})", r.chain.name, r.chain.id), 11.0, 0.0);
    l.field("Date", &date_text(r), 11.0, 0.0);
    l.field("Scan id", &r.scan_id.to_string(), 11.0, 0.0);
    l.field("Status", &status_text(r), 11.0, 0.0);
    l.field("Engine", &format!("Scorpius {}", r.engine_version), 11.0, 0.0);
    if r.datasets.is_empty() {
        l.field("Datasets", "none consulted", 11.0, 0.0);
    } else {
        let ds: Vec<String> = r.datasets.iter().map(|d| format!("{} {}", d.name, d.version)).collect();
        l.field("Datasets", &ds.join(", "), 11.0, 0.0);
    }
    gauge(l, r);
    severity_chart(l, r);
    if !r.suppressed.is_empty() {
        l.heading("Suppressed by policy", 12.0);
        for s in &r.suppressed {
            let until = s.expires.as_deref().map(|e| format!(", until {e}")).unwrap_or_default();
            l.para(&format!("{} × {}: {}{until}", s.count, s.rule_id, s.reason), 10.0, BLACK, 10.0);
        }
    }
}

fn finding(l: &mut Layout<'_>, i: usize, f: &Finding) {
    l.need(70.0);
    l.gap(12.0);
    // Severity badge.
    let sev = f.severity.as_str().to_uppercase();
    let badge_w = l.width(&sev, 9.0) + 10.0;
    l.gap(16.0);
    let y = l.y;
    l.rect(MARGIN, y - 3.0, badge_w, 15.0, severity_colour(f.severity));
    l.text_at(MARGIN + 5.0, y + 1.0, &sev, 9.0, WHITE);
    let title = format!("{}. {}", i + 1, f.title);
    let lines = l.wrap(&title, 12.0, CONTENT_W - badge_w - 8.0);
    for (k, line) in lines.iter().enumerate() {
        if k > 0 {
            l.need(16.0);
            l.gap(16.0);
        }
        l.text_at(MARGIN + badge_w + 8.0, l.y + 1.0, line, 12.0, BLACK);
    }
    l.gap(4.0);
    l.field("Rule", &f.rule_id, 9.5, 0.0);
    let loc = location_label(f.location.as_ref());
    if !loc.is_empty() {
        l.field("Location", &loc, 9.5, 0.0);
    }
    l.gap(2.0);
    l.para(&f.message, 10.0, BLACK, 0.0);
    if !f.evidence.is_empty() {
        l.gap(2.0);
        l.para("Evidence", 9.5, GREY, 0.0);
        for (k, v) in &f.evidence {
            l.field(k, &evidence_text(v), 9.0, 10.0);
        }
    }
    l.gap(2.0);
    l.para(&format!("Recommendation: {}", f.recommendation), 10.0, (0.05, 0.3, 0.15), 0.0);
}

/// Approval inventory (wallet scans): `subject.approvals`, an array of objects, one line per
/// approval with its fields. Skipped when the report has none.
fn inventory(l: &mut Layout<'_>, r: &ScanReport) {
    let subject = r.subject.to_value();
    let Some(items) = subject.get("approvals").and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        return;
    };
    l.heading(&format!("Approval inventory ({})", items.len()), 16.0);
    for (i, item) in items.iter().enumerate() {
        l.need(30.0);
        l.gap(4.0);
        l.para(&format!("Approval {}", i + 1), 10.5, BLACK, 0.0);
        match item.as_object() {
            Some(obj) => {
                for (k, v) in obj {
                    l.field(k, &evidence_text(v), 9.0, 10.0);
                }
            }
            None => l.para(&evidence_text(item), 9.0, BLACK, 10.0),
        }
    }
}

fn report(l: &mut Layout<'_>, r: &ScanReport) {
    title_page(l, r);
    l.new_page();
    l.heading(&format!("Findings ({})", r.findings.len()), 16.0);
    if r.findings.is_empty() {
        let text = match r.status {
            ScanStatus::Complete => "No findings.",
            ScanStatus::Incomplete { .. } => "No findings, but the scan is incomplete: this is not a clean bill.",
        };
        l.para(text, 11.0, BLACK, 0.0);
    }
    for (i, f) in r.findings.iter().enumerate() {
        finding(l, i, f);
    }
    inventory(l, r);
    l.finish_page();
}

/// Renders one or more reports (each from a new page) as a PDF document.
pub fn to_pdf(reports: &[ScanReport]) -> Result<Vec<u8>, PdfError> {
    if reports.is_empty() {
        return Err(PdfError::Empty);
    }
    let font = font().ok_or(PdfError::Font)?;
    let title = match reports {
        [one] => format!("Scorpius {} scan: {}", one.kind.as_str(), one.target),
        many => format!("Scorpius report: {} scans", many.len()),
    };
    let mut doc = PdfDocument::new(&title);
    doc.metadata.info.creator = format!("Scorpius {}", crate::ENGINE_VERSION);
    doc.metadata.info.producer = format!("Scorpius {}", crate::ENGINE_VERSION);
    let font_id = doc.add_font(font);
    let mut l = Layout::new(font, font_id);
    for r in reports {
        report(&mut l, r);
    }
    let total = l.pages.len();
    let mut pages = Vec::with_capacity(total);
    for (n, mut ops) in std::mem::take(&mut l.pages).into_iter().enumerate() {
        let footer = format!("page {} of {total}", n + 1);
        let w = l.width(&footer, 8.0);
        let mut foot = Layout::new(font, l.font_id.clone());
        foot.text_at(PAGE_W - MARGIN - w, MARGIN - 10.0, &footer, 8.0, GREY);
        foot.text_at(MARGIN, MARGIN - 10.0, "Scorpius", 8.0, GREY);
        ops.extend(foot.ops);
        pages.push(PdfPage::new(Mm::from(Pt(PAGE_W)), Mm::from(Pt(PAGE_H)), ops));
    }
    doc.with_pages(pages);
    Ok(doc.save(&PdfSaveOptions::default(), &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx;

    fn layout() -> Layout<'static> {
        let f = font().expect("embedded font parses");
        Layout::new(f, FontId::new())
    }

    #[test]
    fn long_hex_is_broken_to_fit_and_nothing_is_lost() {
        let l = layout();
        let hex = format!("0x{}", "ab".repeat(200));
        let text = format!("calldata {hex} end");
        let lines = l.wrap(&text, 10.0, 200.0);
        assert!(lines.len() > 3, "{lines:?}");
        for line in &lines {
            assert!(l.width(line, 10.0) <= 200.0 + 0.01, "{line} is too wide");
        }
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn characters_outside_the_font_become_replacement_characters() {
        let l = layout();
        assert_eq!(l.clean("Ωмега é\u{7}"), "Ωмега é ");
        assert_eq!(l.clean("中"), "\u{FFFD}");
    }

    #[test]
    fn renders_a_pdf_with_one_title_page_per_report() {
        let r = tx::fixtures::usdc_report(tx::fixtures::APPROVE_UNLIMITED);
        let one = to_pdf(std::slice::from_ref(&r)).unwrap();
        assert!(one.starts_with(b"%PDF-"));
        let two = to_pdf(&[r.clone(), r]).unwrap();
        assert!(two.len() > one.len());
        assert!(matches!(to_pdf(&[]), Err(PdfError::Empty)));
    }
}
