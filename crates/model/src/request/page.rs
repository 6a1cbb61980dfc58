//! What to generate: [`PageRequest`] and the [`FieldSet`] of `inc`/`exc`.

use super::nat::{Gender, Nat};

/// A top-level field of a served user, named as in `inc`/`exc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `gender`
    Gender,
    /// `name`
    Name,
    /// `location`
    Location,
    /// `email`
    Email,
    /// `login` (carries the password and its hashes)
    Login,
    /// `registered`
    Registered,
    /// `dob`
    Dob,
    /// `phone`
    Phone,
    /// `cell`
    Cell,
    /// `id`
    Id,
    /// `picture`
    Picture,
    /// `nat`
    Nat,
}

impl Field {
    /// Every field, in the real API's documentation order.
    pub const ALL: [Field; 12] = [
        Field::Gender,
        Field::Name,
        Field::Location,
        Field::Email,
        Field::Login,
        Field::Registered,
        Field::Dob,
        Field::Phone,
        Field::Cell,
        Field::Id,
        Field::Picture,
        Field::Nat,
    ];

    /// The JSON key and parameter spelling.
    pub fn name(self) -> &'static str {
        match self {
            Field::Gender => "gender",
            Field::Name => "name",
            Field::Location => "location",
            Field::Email => "email",
            Field::Login => "login",
            Field::Registered => "registered",
            Field::Dob => "dob",
            Field::Phone => "phone",
            Field::Cell => "cell",
            Field::Id => "id",
            Field::Picture => "picture",
            Field::Nat => "nat",
        }
    }

    /// Parses a field name, trimmed and case-insensitive.
    pub fn parse(name: &str) -> Option<Field> {
        let name = name.trim();
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The set of top-level fields each user carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldSet(u16);

impl FieldSet {
    /// Every field (the default).
    pub const ALL: FieldSet = FieldSet((1 << Field::ALL.len()) - 1);
    /// No field: users serialise as `{}`.
    pub const NONE: FieldSet = FieldSet(0);

    /// Whether `field` is in the set.
    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    /// The set with `field` added.
    #[must_use]
    pub fn with(self, field: Field) -> FieldSet {
        FieldSet(self.0 | field.bit())
    }

    /// The set with `field` removed.
    #[must_use]
    pub fn without(self, field: Field) -> FieldSet {
        FieldSet(self.0 & !field.bit())
    }

    /// The real API's rule: start from `inc` (all fields when absent or empty), then remove
    /// `exc`. Both are comma lists; unknown names are ignored, so an `inc` of only unknown
    /// names gives empty users.
    pub fn from_inc_exc(inc: Option<&str>, exc: Option<&str>) -> FieldSet {
        let listed = |list: &str| {
            list.split(',')
                .filter_map(Field::parse)
                .fold(FieldSet::NONE, FieldSet::with)
        };
        let has_entries = |list: &&str| list.split(',').any(|s| !s.is_empty());
        let base = match inc.filter(has_entries) {
            Some(list) => listed(list),
            None => FieldSet::ALL,
        };
        let removed = exc.map(listed).unwrap_or(FieldSet::NONE);
        FieldSet(base.0 & !removed.0)
    }
}

impl Default for FieldSet {
    fn default() -> Self {
        FieldSet::ALL
    }
}

/// One page of users to generate: the inputs that fully determine the output.
///
/// User `i` of page `p` depends only on `(seed, nats, gender, p, i)` — not on `results`,
/// `fields` or `noinfo` — so a consumer can re-derive any user it was served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The seed as served in `info.seed`. Any string; the empty string is a seed too (the
    /// server substitutes a random one before it gets here). Like the real API, an
    /// 18-character seed whose last two characters are a hex index into [`Nat::ALL`] selects
    /// that nationality (overriding `nats`) and seeds with its first 16 characters.
    pub seed: String,
    /// 1-based page. Pages are independent streams of users. UUIDs are guaranteed distinct
    /// across pages below 2^30 (the API accepts at most [`crate::MAX_PAGE`]).
    pub page: u32,
    /// Number of users on the page.
    pub results: u32,
    /// Nationalities to draw from (each user picks one uniformly); empty means all.
    /// Order and duplicates do not matter.
    pub nats: Vec<Nat>,
    /// Only this gender, or both when `None`.
    pub gender: Option<Gender>,
    /// Top-level fields to serve (`inc`/`exc`).
    pub fields: FieldSet,
    /// Omit the `info` block (`noinfo`).
    pub noinfo: bool,
}

impl PageRequest {
    /// A request for one user of page 1 of `seed`, all nationalities, genders and fields.
    pub fn new(seed: impl Into<String>) -> Self {
        Self {
            seed: seed.into(),
            ..Self::default()
        }
    }

    /// The seed the RNG uses and the nationalities in force, after the 18-character rule;
    /// nationalities sorted and de-duplicated so that `nat=gb,us` equals `nat=us,gb,us`.
    pub fn effective(&self) -> (&str, Vec<Nat>) {
        if self.seed.len() == 18 && self.seed.is_char_boundary(16) {
            let (base, suffix) = self.seed.split_at(16);
            if let Some(nat) = usize::from_str_radix(suffix, 16)
                .ok()
                .and_then(|i| Nat::ALL.get(i))
            {
                return (base, vec![*nat]);
            }
        }
        let mut nats = self.nats.clone();
        nats.sort_unstable();
        nats.dedup();
        (&self.seed, nats)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            seed: String::new(),
            page: 1,
            results: 1,
            nats: Vec::new(),
            gender: None,
            fields: FieldSet::ALL,
            noinfo: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inc_exc_rules() {
        let all = FieldSet::from_inc_exc(None, None);
        assert_eq!(all, FieldSet::ALL);
        let some = FieldSet::from_inc_exc(Some("Gender, name,,nat"), None);
        assert!(some.contains(Field::Gender) && some.contains(Field::Name));
        assert!(some.contains(Field::Nat) && !some.contains(Field::Login));
        let less = FieldSet::from_inc_exc(None, Some("login,id"));
        assert!(!less.contains(Field::Login) && !less.contains(Field::Id));
        assert!(less.contains(Field::Email));
        let both = FieldSet::from_inc_exc(Some("name,login"), Some("login"));
        assert_eq!(both, FieldSet::NONE.with(Field::Name));
        assert_eq!(FieldSet::from_inc_exc(Some("bogus"), None), FieldSet::NONE);
        assert_eq!(FieldSet::from_inc_exc(Some(""), None), FieldSet::ALL);
    }

    #[test]
    fn eighteen_char_seed_selects_nat() {
        let req = PageRequest::new("abcdef0123456789".to_string() + "0c");
        let (seed, nats) = req.effective();
        assert_eq!(seed, "abcdef0123456789");
        assert_eq!(nats, vec![Nat::Ir]);
        let odd = PageRequest::new("abcdef0123456789zz");
        assert_eq!(odd.effective().0, "abcdef0123456789zz");
    }
}
