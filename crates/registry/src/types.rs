//! Values exchanged with the schema registry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A schema id as the registry assigns it (the 4 bytes after the magic byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SchemaId(pub u32);

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegisteredSchema {
    /// The subject.
    pub subject: String,
    /// The schema's id.
    pub id: SchemaId,
    /// The version within the subject.
    pub version: u32,
    /// The schema text.
    pub schema: String,
}

/// The answer to a compatibility check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compatibility {
    /// Whether the schema may be registered under the subject.
    pub is_compatible: bool,
    /// Why not (with `verbose=true`; empty when compatible or when the registry gives none).
    pub messages: Vec<String>,
}

/// A subject's compatibility level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    /// New schemas can read data written with the latest one.
    Backward,
    /// New schemas can read data written with every earlier one.
    BackwardTransitive,
    /// The latest schema can read data written with new ones.
    Forward,
    /// Every earlier schema can read data written with new ones.
    ForwardTransitive,
    /// Backward and forward against the latest.
    Full,
    /// Backward and forward against every earlier one.
    FullTransitive,
    /// No check.
    None,
}

impl CompatibilityLevel {
    /// Every level, in the registry's spelling order.
    pub const ALL: [Self; 7] = [
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
        Self::None,
    ];

    /// The registry's name: `BACKWARD`, `FULL_TRANSITIVE`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
            Self::None => "NONE",
        }
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`CompatibilityLevel`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compatibility level {0:?}: expected one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE")]
pub struct ParseLevelError(pub String);

impl FromStr for CompatibilityLevel {
    type Err = ParseLevelError;

    /// Case-insensitive; `-` may stand for `_`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_uppercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == wanted)
            .ok_or_else(|| ParseLevelError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_print() {
        for level in CompatibilityLevel::ALL {
            assert_eq!(level.as_str().parse(), Ok(level));
            assert_eq!(
                serde_json::to_string(&level).expect("json"),
                format!("\"{level}\"")
            );
        }
        assert_eq!(
            "backward-transitive".parse(),
            Ok(CompatibilityLevel::BackwardTransitive)
        );
        assert!("sideways".parse::<CompatibilityLevel>().is_err());
    }
}
