//! Where in a document a decoding error happened, so that every door can name the field
//! (`blocks[2].format`) rather than the whole body.
//!
//! Serde loses the path inside values that must be buffered before they can be decoded (a block
//! is read whole, then decoded by its `$type`). Such values report their inner path through
//! [`nested`], and doors put outer and inner path together with [`locate`].

use std::fmt::Display;

const MARK: char = '\u{1f}';

/// An error message that carries the path of the failing field inside the value being decoded.
pub fn nested(inner_path: &str, message: impl Display) -> String {
    format!("{MARK}{inner_path}{MARK}{message}")
}

/// The full path and the plain message of a decoding error that serde reported at `outer_path`
/// (`.` or empty for the document root) with `message`.
pub fn locate(outer_path: &str, message: &str) -> (String, String) {
    let mut path = match outer_path {
        "" | "." => String::new(),
        p => p.to_owned(),
    };
    let mut message = message.to_owned();
    // Unwrap nesting, innermost last.
    while let Some(rest) = message.strip_prefix(MARK) {
        let Some((inner, text)) = rest.split_once(MARK) else { break };
        if !inner.is_empty() && inner != "." {
            join(&mut path, inner);
        }
        message = text.to_owned();
    }
    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        let field = field.to_owned();
        join(&mut path, &field);
        message = "is required".to_owned();
    }
    if path.is_empty() || path.contains('?') {
        path = "body".to_owned();
    }
    (path, message)
}

fn join(path: &mut String, segment: &str) {
    if !path.is_empty() && !segment.starts_with('[') {
        path.push('.');
    }
    path.push_str(segment);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_outer_and_inner_paths() {
        let m = nested("format", "unknown variant `Rich`");
        assert_eq!(locate("blocks[0]", &m), ("blocks[0].format".into(), "unknown variant `Rich`".into()));
        let deeper = nested("cards[1]", nested("title", "invalid type"));
        assert_eq!(locate("blocks[3]", &deeper).0, "blocks[3].cards[1].title");
    }

    #[test]
    fn a_missing_field_is_named_and_the_root_is_the_body() {
        assert_eq!(locate(".", "missing field `blocks`"), ("blocks".into(), "is required".into()));
        assert_eq!(locate("blocks[0]", &nested(".", "missing field `content`")).0, "blocks[0].content");
        assert_eq!(locate(".", "expected value").0, "body");
        assert_eq!(locate("?.x", "bad").0, "body");
    }
}
