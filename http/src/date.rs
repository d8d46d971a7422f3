//! The `Date` header (RFC 9110 §6.6.1, §5.6.7 IMF-fixdate), cached per second.
//!
//! ```text
//! IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
//!             ; Sun, 06 Nov 1994 08:49:37 GMT   (always 29 bytes)
//! ```
//!
//! Every response carries a Date; formatting a date costs a few hundred
//! instructions, so a shard formats it once per second and copies 37 bytes
//! per response. This crate has no clock: the caller passes the current Unix
//! time in seconds (the server reads it once per reactor tick).

/// Length of an IMF-fixdate.
pub const IMF_FIXDATE_LEN: usize = 29;
const LINE_LEN: usize = 6 + IMF_FIXDATE_LEN + 2; // "Date: " + date + CRLF

/// A formatted `Date: ...\r\n` line, recomputed only when the second changes.
#[derive(Clone, Debug)]
pub struct DateCache {
    secs: u64,
    line: [u8; LINE_LEN],
}

impl Default for DateCache {
    fn default() -> Self {
        Self::new()
    }
}

impl DateCache {
    /// A cache holding the Unix epoch; call [`update`](Self::update) before use.
    pub fn new() -> Self {
        let mut c = Self { secs: 0, line: [0; LINE_LEN] };
        c.line[..6].copy_from_slice(b"Date: ");
        c.line[LINE_LEN - 2..].copy_from_slice(b"\r\n");
        format_imf_fixdate(0, (&mut c.line[6..6 + IMF_FIXDATE_LEN]).try_into().expect("29 bytes"));
        c
    }

    /// Sets the time; returns true if the text changed.
    pub fn update(&mut self, unix_secs: u64) -> bool {
        if unix_secs == self.secs {
            return false;
        }
        self.secs = unix_secs;
        let date: &mut [u8; IMF_FIXDATE_LEN] =
            (&mut self.line[6..6 + IMF_FIXDATE_LEN]).try_into().expect("29 bytes");
        format_imf_fixdate(unix_secs, date);
        true
    }

    /// The 29-byte date, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.line[6..6 + IMF_FIXDATE_LEN]
    }

    /// `Date: <date>\r\n`, ready to append to a head.
    pub fn header_line(&self) -> &[u8] {
        &self.line
    }
}

/// Formats `unix_secs` (UTC) as an IMF-fixdate.
pub fn format_imf_fixdate(unix_secs: u64, out: &mut [u8; IMF_FIXDATE_LEN]) {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let days = unix_secs / 86_400;
    let sod = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    out[3..5].copy_from_slice(b", ");
    two(&mut out[5..7], day);
    out[7] = b' ';
    out[8..11].copy_from_slice(MONTHS[month as usize - 1]);
    out[11] = b' ';
    let y = year % 10_000;
    two(&mut out[12..14], y / 100);
    two(&mut out[14..16], y % 100);
    out[16] = b' ';
    two(&mut out[17..19], sod / 3600);
    out[19] = b':';
    two(&mut out[20..22], sod / 60 % 60);
    out[22] = b':';
    two(&mut out[23..25], sod % 60);
    out[25..29].copy_from_slice(b" GMT");
}

fn two(out: &mut [u8], v: u64) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) in the proleptic
/// Gregorian calendar. Counts in 400-year eras starting on March 1st, so the
/// leap day is the last day of the shifted year and needs no special case.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of era [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // month from March [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let table: &[(u64, &[u8])] = &[
            (0, b"Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, b"Sun, 06 Nov 1994 08:49:37 GMT"), // RFC 9110's example
            (951_782_400, b"Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_709_251_199, b"Thu, 29 Feb 2024 23:59:59 GMT"),
            (4_102_444_800, b"Fri, 01 Jan 2100 00:00:00 GMT"),
            (253_402_300_799, b"Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        let mut c = DateCache::new();
        for (t, want) in table {
            c.update(*t);
            assert_eq!(c.as_bytes(), *want, "{t}");
            assert_eq!(&c.header_line()[..6], b"Date: ");
            assert!(c.header_line().ends_with(b"GMT\r\n"));
        }
        assert!(!c.update(253_402_300_799));
        assert!(c.update(1));
    }
}
