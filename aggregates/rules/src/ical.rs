//! iCalendar (RFC 5545) text, as the invitation emails and the web app's "Add to calendar"
//! both write it.

/// A TEXT value: backslash, semicolon, comma and newlines escaped (3.3.11).
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value (3.2): always quoted, so `;`, `:` and `,` stay inside it; a double quote
/// and control characters, which a quoted value cannot hold, are left out.
pub fn param(value: &str) -> String {
    let inner: String = value.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{inner}\"")
}

/// Folds a content line at 75 octets, on character boundaries (3.1); no line break after it.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_values_are_quoted_without_what_a_quote_cannot_hold() {
        assert_eq!(param("Ortega; O'Neil, \"Liv\"\n"), "\"Ortega; O'Neil, Liv\"");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let folded = fold(&format!("SUMMARY:{}", "é".repeat(60)));
        assert!(folded.split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(folded.replace("\r\n ", ""), format!("SUMMARY:{}", "é".repeat(60)));
    }

    #[test]
    fn text_escapes_separators() {
        assert_eq!(text("a;b,c\\d\ne\r"), "a\\;b\\,c\\\\d\\ne");
    }
}
