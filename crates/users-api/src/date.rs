//! UTC calendar arithmetic on millisecond timestamps, as JavaScript's `Date` does it.

/// The real API's fixed "now" (`constantTime`, 2022-05-23T22:16:29Z): the upper bound of
/// registration dates and, here, the instant ages are computed at, so output stays byte-stable.
pub(crate) const REFERENCE_MS: i64 = 1_653_344_189_000;
/// Earliest date of birth the real API serves (1944-08-25).
pub(crate) const DOB_MIN_MS: i64 = -800_000_000_000;
/// Latest date of birth: 21 (365-day) years before the reference instant.
pub(crate) const DOB_MAX_MS: i64 = REFERENCE_MS - 86_400_000 * 365 * 21;
/// Earliest registration date (2002-03-21).
pub(crate) const REGISTERED_MIN_MS: i64 = 1_016_688_461_000;

/// A broken-down UTC instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DateTime {
    pub(crate) year: i64,
    /// 1..=12
    pub(crate) month: u32,
    /// 1..=31
    pub(crate) day: u32,
    pub(crate) ms_of_day: u32,
}

impl DateTime {
    pub(crate) fn from_ms(ms: i64) -> Self {
        let days = ms.div_euclid(86_400_000);
        let ms_of_day = ms.rem_euclid(86_400_000) as u32;
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            ms_of_day,
        }
    }

    /// JavaScript's `toISOString()`, e.g. `1993-07-20T09:44:18.674Z`.
    pub(crate) fn write_iso(&self, out: &mut Vec<u8>) {
        let ms = self.ms_of_day;
        push_padded(out, self.year as u32, 4);
        out.push(b'-');
        push_padded(out, self.month, 2);
        out.push(b'-');
        push_padded(out, self.day, 2);
        out.push(b'T');
        push_padded(out, ms / 3_600_000, 2);
        out.push(b':');
        push_padded(out, ms / 60_000 % 60, 2);
        out.push(b':');
        push_padded(out, ms / 1000 % 60, 2);
        out.push(b'.');
        push_padded(out, ms % 1000, 3);
        out.push(b'Z');
    }

    /// JavaScript's `getYear()`: years since 1900, so 1985 -> 85 and 2001 -> 101.
    pub(crate) fn js_year(&self) -> i64 {
        self.year - 1900
    }
}

/// Whole years from `from` to `to` (dayjs `diff(..., 'years')` for `to >= from`).
pub(crate) fn age_years(from_ms: i64, to_ms: i64) -> i64 {
    let a = DateTime::from_ms(from_ms);
    let b = DateTime::from_ms(to_ms);
    let mut years = b.year - a.year;
    if (b.month, b.day, b.ms_of_day) < (a.month, a.day, a.ms_of_day) {
        years -= 1;
    }
    years
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `value` zero-padded to `width` digits.
pub(crate) fn push_padded(out: &mut Vec<u8>, value: impl Into<u64>, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v: u64 = value.into();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(ms: i64) -> String {
        let mut out = Vec::new();
        DateTime::from_ms(ms).write_iso(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn iso_matches_javascript() {
        // new Date(x).toISOString() in node.
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(REFERENCE_MS), "2022-05-23T22:16:29.000Z");
        assert_eq!(iso(DOB_MIN_MS), "1944-08-25T17:46:40.000Z");
        assert_eq!(iso(REGISTERED_MIN_MS), "2002-03-21T05:27:41.000Z");
        assert_eq!(iso(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn ages() {
        let birthday = 951_782_400_000; // 2000-02-29
        assert_eq!(age_years(birthday, birthday), 0);
        assert_eq!(age_years(birthday, REFERENCE_MS), 22);
        assert_eq!(age_years(DOB_MIN_MS, REFERENCE_MS), 77);
        // 21 years of 365 days fall short of 21 calendar years.
        assert_eq!(age_years(DOB_MAX_MS, REFERENCE_MS), 20);
    }

    #[test]
    fn js_year() {
        assert_eq!(DateTime::from_ms(0).js_year(), 70);
        assert_eq!(DateTime::from_ms(REGISTERED_MIN_MS).js_year(), 102);
    }
}
