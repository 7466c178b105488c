//! `lendwork validate`: checks an event file against the contract in one
//! streaming pass.
//!
//! Every line must be one event; blank lines are refused too, since a JSONL
//! log has none. Errors go to the given sink as `FILE:LINE: field: message`.
//! The check is per line (the contract of each event); whether a
//! `match_accepted` names a known proposal is the engine's business, since a
//! log read from the middle legitimately refers to earlier events.

use std::io::{self, BufRead, Write};

use lendwork_domain::Event;

/// What a validation pass found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Lines read.
    pub lines: u64,
    /// Lines refused.
    pub errors: u64,
}

/// Validates every line of `input`, naming `name` in error messages, and
/// writes one line per error to `errors`.
pub fn validate(name: &str, input: impl BufRead, mut errors: impl Write) -> io::Result<Summary> {
    let mut summary = Summary::default();
    for_each_event(name, input, &mut errors, &mut summary, |_, _| Ok(()))?;
    Ok(summary)
}

/// Reads `input` line by line, calling `f` with each valid event and writing
/// `FILE:LINE: field: message` for each invalid one.
pub fn for_each_event(
    name: &str,
    mut input: impl BufRead,
    errors: &mut dyn Write,
    summary: &mut Summary,
    mut f: impl FnMut(u64, Event) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        summary.lines += 1;
        let line_no = summary.lines;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(e) => {
                summary.errors += 1;
                writeln!(errors, "{name}:{line_no}: $: not UTF-8 ({e})")?;
                continue;
            }
        };
        if text.trim().is_empty() {
            summary.errors += 1;
            writeln!(
                errors,
                "{name}:{line_no}: $: empty line (every line must be one event)"
            )?;
            continue;
        }
        match Event::from_json(text) {
            Ok(ev) => f(line_no, ev)?,
            Err(e) => {
                summary.errors += 1;
                writeln!(errors, "{name}:{line_no}: {e}")?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_file_line_and_field() {
        let input = concat!(
            r#"{"type":"match_expired","id":"e1","at":"2026-03-01T08:00:00Z","match_id":"m"}"#,
            "\n",
            r#"{"type":"match_expired","id":"e 2","at":"2026-03-01T08:00:00Z","match_id":"m"}"#,
            "\n\n",
            "\u{0}\u{ff}\n"
        );
        let mut err = Vec::new();
        let s = validate("f.jsonl", input.as_bytes(), &mut err).unwrap();
        let err = String::from_utf8(err).unwrap();
        assert_eq!(
            s,
            Summary {
                lines: 4,
                errors: 3
            }
        );
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines[0].starts_with("f.jsonl:2: id: "), "{err}");
        assert!(lines[1].starts_with("f.jsonl:3: $: empty line"), "{err}");
        assert!(lines[2].starts_with("f.jsonl:4: $: "), "{err}");
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut err = Vec::new();
        let s = validate("x", &b"\xff\xfe\n"[..], &mut err).unwrap();
        assert_eq!(s.errors, 1);
        assert!(String::from_utf8(err).unwrap().contains("not UTF-8"));
    }
}
