//! `userstream json-schema`: the JSON Schema of each `--json` output other programs read.
//!
//! The outputs are typed structs (`RunSummary`, ...); their schemas are generated from those
//! types, kept in `dags/contracts/` and checked there by a test here (the files are what the
//! binary prints) and by the DAGs' tests (every field a DAG reads is in the schema, with the
//! type the DAG expects, and the DAG tests' stand-in binary prints documents that validate).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

/// A `--json` output with a published schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// `userstream produce --json`.
    Produce,
    /// `userstream stream status --json`.
    StreamStatus,
    /// `userstream stream ensure --json`.
    StreamEnsure,
    /// `userstream verify --json`.
    Verify,
}

impl Output {
    /// Every output, in the order they are listed.
    pub const ALL: [Self; 4] = [
        Self::Produce,
        Self::StreamStatus,
        Self::StreamEnsure,
        Self::Verify,
    ];

    /// The schema's file name in the contracts directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Produce => "produce.schema.json",
            Self::StreamStatus => "stream-status.schema.json",
            Self::StreamEnsure => "stream-ensure.schema.json",
            Self::Verify => "verify.schema.json",
        }
    }

    /// The schema, as the file holds it (pretty-printed, one trailing newline).
    pub fn schema_text(self) -> String {
        let schema = match self {
            Self::Produce => schema_of::<userstream_ingest::RunSummary>(),
            Self::StreamStatus => schema_of::<userstream_stream::StreamStatus>(),
            Self::StreamEnsure => schema_of::<userstream_stream::EnsureReport>(),
            Self::Verify => schema_of::<userstream_verify::VerifyReport>(),
        };
        let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
        text.push('\n');
        text
    }
}

/// The schema of `T` as the binary prints it: every field of every object is always printed
/// (an absent value is `null`, never a missing key: none of these types skips a field), so
/// every property is required, `Option`s included, which schemars leaves optional by default.
fn schema_of<T: schemars::JsonSchema>() -> schemars::Schema {
    let every_field_printed = |schema: &mut schemars::Schema| {
        let names: Option<Vec<serde_json::Value>> = schema
            .get("properties")
            .and_then(serde_json::Value::as_object)
            .map(|properties| properties.keys().cloned().map(Into::into).collect());
        if let Some(names) = names {
            schema.insert("required".to_owned(), names.into());
        }
    };
    schemars::generate::SchemaSettings::draft2020_12()
        .with_transform(schemars::transform::RecursiveTransform(every_field_printed))
        .into_generator()
        .into_root_schema_for::<T>()
}

/// `userstream json-schema` arguments.
#[derive(Debug, Args)]
pub struct JsonSchemaArgs {
    /// The output whose schema to print (every one with --write).
    #[arg(value_enum)]
    output: Option<Output>,
    /// Write every schema into this directory (the repository keeps them in dags/contracts)
    /// instead of printing one.
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
}

/// Runs `userstream json-schema`.
pub fn run(args: &JsonSchemaArgs) -> anyhow::Result<ExitCode> {
    match (&args.write, args.output) {
        (Some(dir), _) => {
            for output in Output::ALL {
                let path = dir.join(output.file_name());
                write(&path, &output.schema_text())?;
                eprintln!("wrote {}", path.display());
            }
        }
        (None, Some(output)) => print!("{}", output.schema_text()),
        (None, None) => anyhow::bail!(
            "name an output ({}) or give --write <dir>",
            Output::ALL
                .iter()
                .map(|o| o
                    .to_possible_value()
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schemas the DAGs' tests read are the ones the binary prints: a changed `--json`
    /// output fails here until `userstream json-schema --write dags/contracts` is run (and
    /// the DAGs' tests then say whether the DAGs still read it right).
    #[test]
    fn the_published_schemas_are_the_binary_s() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dags/contracts");
        for output in Output::ALL {
            let path = dir.join(output.file_name());
            let published = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                published == output.schema_text(),
                "{} differs from the binary's schema of {output:?}: run `userstream json-schema \
                 --write dags/contracts`, then the DAGs' tests",
                path.display()
            );
        }
    }
}
