//! The derived columns: each rule once, its Rust function and its Spark SQL expression side by
//! side, with Spark's semantics.
//!
//! The producer (`parse`) fills `display_address` with [`display_address`]; the streaming job
//! stores [`Rule::spark_sql`]; `verify`'s oracle computes [`Rule::eval`]. So the three agree
//! by construction, and the unit tests below pin the Rust side to what the SQL does.
//!
//! Spark's `trim(s)` removes leading and trailing space characters (U+0020) only, not tabs or
//! other Unicode whitespace: [`spark_trim`] does the same, and every rule trims with it.

use chrono::{DateTime, Datelike, Utc};

use crate::record::{Cell, ToCell};
use crate::user::User;

/// A column the job computes from the record instead of copying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `number street, city, state postcode, country`: [`display_address`].
    DisplayAddress,
    /// Trimmed, lower-cased email: [`email`].
    Email,
    /// The domain of that email: [`email_domain`].
    EmailDomain,
    /// `first last`: [`full_name`].
    FullName,
    /// Whole years from `dob` to `processed_at`: [`age_at`].
    AgeAtIngest,
}

impl Rule {
    /// The Spark SQL expression of the rule. `record` is the struct column holding the
    /// decoded record (the job's `decoded`); `processed_at` the expression of the batch's
    /// time (the job's `current_timestamp()`, evaluated once per micro-batch).
    pub fn spark_sql(self, record: &str, processed_at: &str) -> String {
        let f = |field: &str| format!("{record}.{field}");
        // `nullif(trim(x), '')`: a part that is absent, empty or only spaces is left out;
        // `concat_ws` skips NULLs, so their separators go too.
        let part = |field: &str| format!("nullif(trim({}), '')", f(field));
        match self {
            Self::DisplayAddress => format!(
                "nullif(concat_ws(', ', \
                 nullif(concat_ws(' ', CAST({number} AS STRING), {street}), ''), \
                 {city}, \
                 nullif(concat_ws(' ', {state}, {postcode}), ''), \
                 {country}), '')",
                number = f("street_number"),
                street = part("street_name"),
                city = part("city"),
                state = part("state"),
                postcode = part("postcode"),
                country = part("country"),
            ),
            Self::Email => format!("lower(trim({}))", f("email")),
            Self::EmailDomain => format!(
                "CASE WHEN instr({email}, '@') > 0 \
                 THEN substring_index({lower}, '@', -1) END",
                email = f("email"),
                lower = Self::Email.spark_sql(record, processed_at),
            ),
            Self::FullName => format!(
                "nullif(concat_ws(' ', {}, {}), '')",
                part("first_name"),
                part("last_name")
            ),
            // By calendar, in the session time zone (the job sets UTC): the birthday counts
            // on its day.
            Self::AgeAtIngest => format!(
                "CAST(year({at}) - year({dob}) - CASE WHEN month({at}) < month({dob}) \
                 OR (month({at}) = month({dob}) AND dayofmonth({at}) < dayofmonth({dob})) \
                 THEN 1 ELSE 0 END AS INT)",
                at = processed_at,
                dob = f("dob"),
            ),
        }
    }

    /// What the job stores for `user`, computed in Rust; `processed_at` is the row's batch
    /// time (only [`Rule::AgeAtIngest`] reads it).
    pub fn eval(self, user: &User, processed_at: Option<DateTime<Utc>>) -> Cell {
        match self {
            Self::DisplayAddress => display_address(user).to_cell(),
            Self::Email => email(user).to_cell(),
            Self::EmailDomain => email_domain(user).to_cell(),
            Self::FullName => full_name(user).to_cell(),
            Self::AgeAtIngest => match (user.dob, processed_at) {
                (Some(dob), Some(at)) => Cell::Int(age_at(dob, at)),
                _ => Cell::Null,
            },
        }
    }
}

/// Spark's `trim`: leading and trailing spaces (U+0020) only.
pub fn spark_trim(s: &str) -> &str {
    s.trim_matches(' ')
}

/// `nullif(trim(s), '')`.
fn part(s: Option<&str>) -> Option<&str> {
    s.map(spark_trim).filter(|s| !s.is_empty())
}

/// `nullif(concat_ws(sep, parts...), '')`.
fn join_present(sep: &str, parts: &[Option<&str>]) -> Option<String> {
    let present: Vec<&str> = parts.iter().flatten().copied().collect();
    let joined = present.join(sep);
    (!joined.is_empty()).then_some(joined)
}

/// "number street, city, state postcode, country": parts trimmed, absent or blank parts and
/// their separators left out; `None` when nothing is left.
///
/// Written into one string: joining each group, then the groups, allocated seven times per
/// user on the producer's path.
pub fn display_address(u: &User) -> Option<String> {
    let number = u.street_number.map(|n| n.to_string());
    let groups = [
        [number.as_deref(), part(u.street_name.as_deref())],
        [part(u.city.as_deref()), None],
        [part(u.state.as_deref()), part(u.postcode.as_deref())],
        [part(u.country.as_deref()), None],
    ];
    let mut out = String::with_capacity(96);
    // Every part is non-empty, so a group is empty exactly when none of its parts is present.
    for group in groups.iter().filter(|g| g.iter().any(Option::is_some)) {
        if !out.is_empty() {
            out.push_str(", ");
        }
        for (i, piece) in group.iter().flatten().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(piece);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The email trimmed and lower-cased (an empty one stays empty, as in Spark).
pub fn email(u: &User) -> Option<String> {
    u.email.as_deref().map(|e| spark_trim(e).to_lowercase())
}

/// What follows the last `@` of [`email`]; `None` without an `@`.
pub fn email_domain(u: &User) -> Option<String> {
    let raw = u.email.as_deref()?;
    if !raw.contains('@') {
        return None;
    }
    email(u)?.rsplit('@').next().map(str::to_owned)
}

/// "first last", each trimmed, blank parts left out; `None` when both are blank.
pub fn full_name(u: &User) -> Option<String> {
    join_present(
        " ",
        &[part(u.first_name.as_deref()), part(u.last_name.as_deref())],
    )
}

/// Whole calendar years from `dob` to `at`, in UTC (the birthday counts on its day).
pub fn age_at(dob: DateTime<Utc>, at: DateTime<Utc>) -> i32 {
    let before_birthday = (at.month(), at.day()) < (dob.month(), dob.day());
    at.year() - dob.year() - i32::from(before_birthday)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    /// A user with only the required fields (a field added later is `None` here too).
    fn user() -> User {
        serde_json::from_value(serde_json::json!({
            "id": Uuid::nil(),
            "username": "u",
            "produced_at": "1970-01-01T00:00:00Z",
            "source_url": "http://x",
            "source_seed": "s",
            "source_page": 1,
            "source_index": 0
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn display_address_full_and_partial() {
        let mut u = user();
        u.street_number = Some(8929);
        u.street_name = some("Valwood Pkwy");
        u.city = some("Billings");
        u.state = some("Michigan");
        u.postcode = some("63104");
        u.country = some("United States");
        assert_eq!(
            display_address(&u).as_deref(),
            Some("8929 Valwood Pkwy, Billings, Michigan 63104, United States")
        );
        let mut u = user();
        u.city = some("Kyiv");
        u.country = some("Ukraine");
        assert_eq!(display_address(&u).as_deref(), Some("Kyiv, Ukraine"));
        let mut u = user();
        u.street_name = some(" ");
        u.state = some("");
        assert_eq!(display_address(&u), None);
        u.street_number = Some(12);
        u.street_name = some("Main St");
        u.postcode = some("99");
        u.country = some("US");
        assert_eq!(display_address(&u).as_deref(), Some("12 Main St, 99, US"));
    }

    /// The rule as `concat_ws` of `concat_ws`s, spelled with [`join_present`] as the SQL is:
    /// the one-string version must agree on every mix of absent, blank and padded parts.
    #[test]
    fn display_address_is_the_sql_composition() {
        let values = [None, some(""), some(" "), some("x"), some(" y z ")];
        let mut u = user();
        for number in [None, Some(-5), Some(12)] {
            for street in &values {
                for city in &values {
                    for state in &values {
                        for postcode in &values {
                            for country in &values {
                                u.street_number = number;
                                u.street_name = street.clone();
                                u.city = city.clone();
                                u.state = state.clone();
                                u.postcode = postcode.clone();
                                u.country = country.clone();
                                let n = u.street_number.map(|n| n.to_string());
                                let s = join_present(
                                    " ",
                                    &[n.as_deref(), part(u.street_name.as_deref())],
                                );
                                let r = join_present(
                                    " ",
                                    &[part(u.state.as_deref()), part(u.postcode.as_deref())],
                                );
                                let sql = join_present(
                                    ", ",
                                    &[
                                        s.as_deref(),
                                        part(u.city.as_deref()),
                                        r.as_deref(),
                                        part(u.country.as_deref()),
                                    ],
                                );
                                assert_eq!(display_address(&u), sql, "{u:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Spark's `trim` keeps tabs, no-break spaces and other Unicode whitespace: so does
    /// the rule, everywhere (the producer used to trim them, the job did not).
    #[test]
    fn only_spaces_are_trimmed() {
        let mut u = user();
        u.city = some("  Köln  ");
        u.country = some("\tDE\u{a0}");
        u.state = some("\u{3000}");
        assert_eq!(
            display_address(&u).as_deref(),
            Some("Köln, \u{3000}, \tDE\u{a0}")
        );
        u.first_name = some("\u{a0}");
        u.last_name = some(" Smith ");
        assert_eq!(full_name(&u).as_deref(), Some("\u{a0} Smith"));
        u.email = some("\tA@B.com ");
        assert_eq!(email(&u).as_deref(), Some("\ta@b.com"));
    }

    #[test]
    fn email_and_domain() {
        let mut u = user();
        u.email = some(" Ava.8@Example2.COM ");
        assert_eq!(email(&u).as_deref(), Some("ava.8@example2.com"));
        assert_eq!(email_domain(&u).as_deref(), Some("example2.com"));
        u.email = some("no-at-sign");
        assert_eq!(email_domain(&u), None);
        assert_eq!(email(&u).as_deref(), Some("no-at-sign"));
        u.email = some("a@b@C.org");
        assert_eq!(email_domain(&u).as_deref(), Some("c.org"));
        u.email = some("   ");
        assert_eq!(email(&u).as_deref(), Some(""));
        u.email = None;
        assert_eq!((email(&u), email_domain(&u)), (None, None));
    }

    #[test]
    fn full_name_leaves_out_blank_parts() {
        let mut u = user();
        assert_eq!(full_name(&u), None);
        u.first_name = some("  ");
        u.last_name = some("Smith");
        assert_eq!(full_name(&u).as_deref(), Some("Smith"));
        u.first_name = some("آرمان");
        assert_eq!(full_name(&u).as_deref(), Some("آرمان Smith"));
    }

    #[test]
    fn age_counts_the_birthday() {
        let dob = Utc.with_ymd_and_hms(1990, 6, 15, 23, 0, 0).single();
        let day_before = Utc.with_ymd_and_hms(2026, 6, 14, 0, 0, 0).single();
        let on_day = Utc.with_ymd_and_hms(2026, 6, 15, 0, 0, 0).single();
        let (Some(dob), Some(before), Some(on)) = (dob, day_before, on_day) else {
            panic!("dates");
        };
        assert_eq!(age_at(dob, before), 35);
        assert_eq!(age_at(dob, on), 36);
        let mut u = user();
        assert_eq!(Rule::AgeAtIngest.eval(&u, Some(on)), Cell::Null);
        u.dob = Some(dob);
        assert_eq!(Rule::AgeAtIngest.eval(&u, Some(on)), Cell::Int(36));
        assert_eq!(Rule::AgeAtIngest.eval(&u, None), Cell::Null);
    }

    #[test]
    fn sql_reads_the_record_struct() {
        let sql = Rule::DisplayAddress.spark_sql("decoded", "current_timestamp()");
        assert_eq!(
            sql,
            "nullif(concat_ws(', ', \
             nullif(concat_ws(' ', CAST(decoded.street_number AS STRING), \
             nullif(trim(decoded.street_name), '')), ''), \
             nullif(trim(decoded.city), ''), \
             nullif(concat_ws(' ', nullif(trim(decoded.state), ''), \
             nullif(trim(decoded.postcode), '')), ''), \
             nullif(trim(decoded.country), '')), '')"
        );
        assert_eq!(
            Rule::EmailDomain.spark_sql("decoded", "now()"),
            "CASE WHEN instr(decoded.email, '@') > 0 \
             THEN substring_index(lower(trim(decoded.email)), '@', -1) END"
        );
        assert!(Rule::AgeAtIngest
            .spark_sql("d", "current_timestamp()")
            .contains("year(current_timestamp()) - year(d.dob)"));
    }
}
