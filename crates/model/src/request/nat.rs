//! Nationalities and genders, as the `nat` and `gender` parameters name them.

use std::fmt;

/// A nationality the real API (1.4) serves. The order is the real API's (alphabetical by code):
/// it gives the two-hex-digit suffix of an 18-character seed (`...0c` is IR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Nat {
    /// Australia.
    Au,
    /// Brazil.
    Br,
    /// Canada.
    Ca,
    /// Switzerland.
    Ch,
    /// Germany.
    De,
    /// Denmark.
    Dk,
    /// Spain.
    Es,
    /// Finland.
    Fi,
    /// France.
    Fr,
    /// United Kingdom.
    Gb,
    /// Ireland.
    Ie,
    /// India.
    In,
    /// Iran (names and places in Persian script).
    Ir,
    /// Mexico.
    Mx,
    /// Netherlands.
    Nl,
    /// Norway.
    No,
    /// New Zealand.
    Nz,
    /// Serbia (some users in Cyrillic).
    Rs,
    /// Turkey.
    Tr,
    /// Ukraine (mostly Cyrillic).
    Ua,
    /// United States.
    Us,
}

impl Nat {
    /// Every nationality, in the real API's order.
    pub const ALL: [Nat; 21] = [
        Nat::Au,
        Nat::Br,
        Nat::Ca,
        Nat::Ch,
        Nat::De,
        Nat::Dk,
        Nat::Es,
        Nat::Fi,
        Nat::Fr,
        Nat::Gb,
        Nat::Ie,
        Nat::In,
        Nat::Ir,
        Nat::Mx,
        Nat::Nl,
        Nat::No,
        Nat::Nz,
        Nat::Rs,
        Nat::Tr,
        Nat::Ua,
        Nat::Us,
    ];

    /// The upper-case code served in the `nat` field, e.g. `"GB"`.
    pub fn code(self) -> &'static str {
        match self {
            Nat::Au => "AU",
            Nat::Br => "BR",
            Nat::Ca => "CA",
            Nat::Ch => "CH",
            Nat::De => "DE",
            Nat::Dk => "DK",
            Nat::Es => "ES",
            Nat::Fi => "FI",
            Nat::Fr => "FR",
            Nat::Gb => "GB",
            Nat::Ie => "IE",
            Nat::In => "IN",
            Nat::Ir => "IR",
            Nat::Mx => "MX",
            Nat::Nl => "NL",
            Nat::No => "NO",
            Nat::Nz => "NZ",
            Nat::Rs => "RS",
            Nat::Tr => "TR",
            Nat::Ua => "UA",
            Nat::Us => "US",
        }
    }

    /// The English country name served in `location.country`.
    pub fn country(self) -> &'static str {
        match self {
            Nat::Au => "Australia",
            Nat::Br => "Brazil",
            Nat::Ca => "Canada",
            Nat::Ch => "Switzerland",
            Nat::De => "Germany",
            Nat::Dk => "Denmark",
            Nat::Es => "Spain",
            Nat::Fi => "Finland",
            Nat::Fr => "France",
            Nat::Gb => "United Kingdom",
            Nat::Ie => "Ireland",
            Nat::In => "India",
            Nat::Ir => "Iran",
            Nat::Mx => "Mexico",
            Nat::Nl => "Netherlands",
            Nat::No => "Norway",
            Nat::Nz => "New Zealand",
            Nat::Rs => "Serbia",
            Nat::Tr => "Turkey",
            Nat::Ua => "Ukraine",
            Nat::Us => "United States",
        }
    }

    /// Parses a code case-insensitively (`"gb"`, `"GB"`); `None` for codes the API lacks.
    pub fn parse(code: &str) -> Option<Nat> {
        let code = code.trim();
        Nat::ALL
            .into_iter()
            .find(|nat| nat.code().eq_ignore_ascii_case(code))
    }

    /// Position in [`Nat::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Nat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A user's gender as the API serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// `"male"`.
    Male,
    /// `"female"`.
    Female,
}

impl Gender {
    /// The served string.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }

    /// Parses the `gender` parameter. Like the real API this is exact: `"Male"` is not a gender
    /// filter and yields both genders.
    pub fn parse(value: &str) -> Option<Gender> {
        match value {
            "male" => Some(Gender::Male),
            "female" => Some(Gender::Female),
            _ => None,
        }
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_parse() {
        for (i, nat) in Nat::ALL.iter().enumerate() {
            assert_eq!(nat.index(), i);
            assert_eq!(Nat::parse(&nat.code().to_lowercase()), Some(*nat));
        }
        assert_eq!(Nat::ALL[12], Nat::Ir);
        assert_eq!(Nat::parse("xx"), None);
        assert_eq!(Nat::parse(" us "), Some(Nat::Us));
    }
}
