//! `report.md`: the report's blocks in Markdown, every cell escaped so that
//! text from a database cannot add markup or break a table.

use super::Report;
use super::document::{Block, blocks};

/// Escapes Markdown's special characters, HTML's `<`, `>` and `&` (which
/// Markdown passes through), and turns line breaks into spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The whole Markdown document.
pub fn render(report: &Report) -> String {
    let mut out = String::from("# vault restore report\n");
    for block in blocks(report) {
        out.push('\n');
        match block {
            Block::Heading(title) => out.push_str(&format!("## {}\n", escape(&title))),
            Block::Paragraph(text) => out.push_str(&format!("{}\n", escape(&text))),
            Block::Facts(facts) => {
                out.push_str("| | |\n|---|---|\n");
                for (label, value) in facts {
                    out.push_str(&format!(
                        "| **{}** | {} |\n",
                        escape(&label),
                        escape(&value)
                    ));
                }
            }
            Block::Table { headers, rows } => {
                out.push_str(&format!("| {} |\n", headers.join(" | ")));
                out.push_str(&format!("|{}\n", "---|".repeat(headers.len())));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(|c| escape(c)).collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
            }
            Block::List(entries) => {
                for entry in entries {
                    out.push_str(&format!("- {}\n", escape(&entry)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_add_markup_or_break_a_table() {
        assert_eq!(
            escape("a|b <script> *x* [l](u)\nc"),
            "a\\|b &lt;script&gt; \\*x\\* \\[l\\](u) c"
        );
    }
}
