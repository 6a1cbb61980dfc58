//! Quoting for the configuration formats the engines read (Java properties, Java options,
//! YAML, `file://` URLs). Pure functions, shared by the engines' renderers.

use std::path::Path;

/// A Java properties file, rendered: the header, then `key=value` lines.
pub(crate) fn properties_file(properties: &[(&str, &str)]) -> String {
    let mut text = "# Rendered by `userstream stack up`; edits are overwritten. Holds a password: mode 0600.\n"
        .to_owned();
    for (key, value) in properties {
        text.push_str(&format!("{key}={}\n", java_properties_value(value)));
    }
    text
}

/// `option` as one token of a Spark Java options string (`spark.*.extraJavaOptions`): in
/// double quotes, with `"` and `\` escaped. The launcher (the driver's options) and the
/// standalone worker (the executors') both split these strings this way.
pub(crate) fn java_option_quote(option: &str) -> String {
    let mut out = String::with_capacity(option.len() + 2);
    out.push('"');
    for c in option.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `value` as the value of a line of a Java properties file (`Properties.load`). (Spark then
/// trims the value: white space at either end of a password would be lost. The stack's
/// passwords have none.)
pub(crate) fn java_properties_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Leading white space is skipped by the reader.
            ' ' if i == 0 => out.push_str("\\ "),
            c => out.push(c),
        }
    }
    out
}

/// `file://` URL of an absolute `path`, every byte but unreserved ones and `/` percent-encoded.
pub(crate) fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// `path` as a YAML double-quoted scalar. A JSON string is one (same escapes), so a state
/// directory with a space, `#`, `:` or a quote in its name reads back as itself.
pub(crate) fn yaml_path(path: &Path) -> String {
    serde_json::Value::from(path.display().to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_values_keep_leading_space_and_line_breaks() {
        assert_eq!(java_properties_value(" a\nb\t"), "\\ a\\nb\\t");
        assert_eq!(java_properties_value("a b=c:d#e"), "a b=c:d#e");
    }
}
