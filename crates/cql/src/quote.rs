//! Values the stack writes into CQL text (role names, passwords from the secrets file): quoted,
//! so a quote in a value ends nothing. Statements that create roles cannot take bind markers.

/// `value` as a CQL string literal: in single quotes, each quote doubled.
pub fn string_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `name` as a quoted CQL identifier: in double quotes, each double quote doubled. Quoted
/// names keep their case; the stack's role names are lower case, so they match the unquoted
/// names that older versions created.
pub fn quoted_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_in_a_value_stays_inside_it() {
        assert_eq!(string_literal("pa'ss"), "'pa''ss'");
        assert_eq!(string_literal("plain"), "'plain'");
        assert_eq!(quoted_name("user_app"), "\"user_app\"");
        assert_eq!(quoted_name("a\"b"), "\"a\"\"b\"");
    }
}
