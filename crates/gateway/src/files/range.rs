//! One HTTP byte range (RFC 9110 section 14): `bytes=a-b`, `bytes=a-` or `bytes=-n`. Several
//! ranges, other units and malformed headers are ignored, as the RFC allows: the whole file is
//! sent.

/// What to send of a file of known size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    Whole,
    /// Bytes `start..=end`, both within the file.
    Part {
        start: u64,
        end: u64,
    },
    /// A well-formed range that starts past the end of the file: 416.
    Unsatisfiable,
}

pub fn parse_range(header: Option<&str>, size: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return ByteRange::Whole;
    };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) { None } else { s.parse().ok() }
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // `bytes=-n`: the last n bytes.
        (true, false) => match number(last) {
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if size == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Part { start: size - n.min(size), end: size - 1 },
            None => ByteRange::Whole,
        },
        // `bytes=a-`: from a to the end.
        (false, true) => match number(first) {
            Some(start) if start >= size => ByteRange::Unsatisfiable,
            Some(start) => ByteRange::Part { start, end: size - 1 },
            None => ByteRange::Whole,
        },
        // `bytes=a-b`, b past the end meaning the end.
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start > end => ByteRange::Whole,
            (Some(start), Some(_)) if start >= size => ByteRange::Unsatisfiable,
            (Some(start), Some(end)) => ByteRange::Part { start, end: end.min(size - 1) },
            _ => ByteRange::Whole,
        },
        (true, true) => ByteRange::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange::*;
    use super::parse_range;

    #[test]
    fn one_range_in_each_form() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Part { start: 0, end: 9 });
        assert_eq!(parse_range(Some("bytes=90-"), 100), Part { start: 90, end: 99 });
        assert_eq!(parse_range(Some("bytes=-10"), 100), Part { start: 90, end: 99 });
        assert_eq!(parse_range(Some("bytes=50-500"), 100), Part { start: 50, end: 99 });
        assert_eq!(parse_range(Some("bytes=-500"), 100), Part { start: 0, end: 99 });
    }

    #[test]
    fn past_the_end_is_unsatisfiable() {
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=100-200"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
    }

    #[test]
    fn everything_else_is_ignored() {
        for header in [
            None,
            Some("bytes=0-1,5-6"),
            Some("items=0-1"),
            Some("bytes=9-2"),
            Some("bytes=x-"),
            Some("bytes=-"),
        ] {
            assert_eq!(parse_range(header, 100), Whole, "{header:?}");
        }
    }
}
