//! Instants as milliseconds since the Unix epoch.
//!
//! Stored as integers (the same column type on SQLite and PostgreSQL, and exact for ordering and
//! cursors) and rendered as RFC 3339 with milliseconds, the shape every seed shows:
//! `2024-01-01T00:00:00.000Z`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_ms(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn unix_ms(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp((nanos / 1_000_000) as i64)
    }

    pub const fn plus_ms(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn ms_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 in UTC with exactly three fractional digits.
    pub fn to_rfc3339(self) -> String {
        let format =
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
    }

    /// Parses any RFC 3339 date-time (any offset, any precision), keeping milliseconds.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 date-time")))
    }
}

/// A span of milliseconds for people: `10 minutes`, `1 minute`, `90 s`, `2.5 s`.
pub fn describe_ms(ms: i64) -> String {
    match ms {
        m if m >= 60_000 && m % 60_000 == 0 => match m / 60_000 {
            1 => "1 minute".to_owned(),
            n => format!("{n} minutes"),
        },
        m if m % 1000 == 0 => format!("{} s", m / 1000),
        m => format!("{} s", m as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(describe_ms(600_000), "10 minutes");
        assert_eq!(describe_ms(60_000), "1 minute");
        assert_eq!(describe_ms(90_000), "90 s");
        assert_eq!(describe_ms(2_500), "2.5 s");
    }

    #[test]
    fn renders_milliseconds_in_utc() {
        assert_eq!(Timestamp::from_unix_ms(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::from_unix_ms(1_743_004_200_123).to_rfc3339(), "2025-03-26T15:50:00.123Z");
    }

    #[test]
    fn parses_offsets_and_round_trips() {
        let t = Timestamp::parse_rfc3339("2025-12-19T21:22:31+07:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-12-19T14:22:31.000Z");
        let u = Timestamp::from_unix_ms(1_700_000_000_456);
        assert_eq!(Timestamp::parse_rfc3339(&u.to_rfc3339()), Some(u));
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }
}
