//! `report.html`: one self-contained page (inline CSS, no script, no external
//! asset), every piece of text HTML-escaped.

use super::Report;
use super::document::{Block, blocks, outcome_label};

/// Escapes `& < > " '` for text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:0.3em 0.6em;text-align:left;vertical-align:top}\
th{background:#eee}\
td.num{text-align:right}\
.ok{color:#176f2c;font-weight:bold}.findings{color:#a15c00;font-weight:bold}\
.failed{color:#b00020;font-weight:bold}.skipped{color:#777}\
p.error{border-left:4px solid #b00020;padding-left:0.6em}";

/// The class that colours a status cell.
fn status_class(text: &str) -> Option<&'static str> {
    ["ok", "findings", "failed", "skipped"]
        .into_iter()
        .find(|s| *s == text)
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<title>vault restore report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&report.target.identity)
    ));
    out.push_str(&format!(
        "<h1>vault restore report <span class=\"{0}\" id=\"outcome\">{0}</span></h1>\n",
        outcome_label(&report.outcome)
    ));
    for block in blocks(report) {
        match block {
            Block::Heading(title) => out.push_str(&format!("<h2>{}</h2>\n", escape(&title))),
            Block::Paragraph(text) => {
                let class = if report
                    .error
                    .as_ref()
                    .is_some_and(|e| text.ends_with(e.as_str()))
                {
                    " class=\"error\""
                } else {
                    ""
                };
                out.push_str(&format!("<p{class}>{}</p>\n", escape(&text)));
            }
            Block::Facts(facts) => {
                out.push_str("<table class=\"facts\">\n");
                for (label, value) in facts {
                    out.push_str(&format!(
                        "<tr><th>{}</th><td>{}</td></tr>\n",
                        escape(&label),
                        escape(&value)
                    ));
                }
                out.push_str("</table>\n");
            }
            Block::Table { headers, rows } => {
                out.push_str("<table>\n<tr>");
                for header in headers {
                    out.push_str(&format!("<th>{}</th>", escape(header)));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let class = if let Some(status) = status_class(&cell) {
                            format!(" class=\"{status}\"")
                        } else if !cell.is_empty() && cell.chars().all(|c| c.is_ascii_digit()) {
                            " class=\"num\"".into()
                        } else {
                            String::new()
                        };
                        out.push_str(&format!("<td{class}>{}</td>", escape(&cell)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::List(entries) => {
                out.push_str("<ul>\n");
                for entry in entries {
                    out.push_str(&format!("<li>{}</li>\n", escape(&entry)));
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
