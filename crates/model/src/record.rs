//! The one declaration of the user record: every column of the Cassandra `users` table, in
//! table order, with its type, whether the Avro record carries it, and how the streaming job
//! fills it.
//!
//! Everything else is derived from [`user_record!`] or checked against it by a test:
//! - [`crate::User`] (its fields, its Avro value, its Avro decoding and direct Avro writer);
//! - `schema/user.avsc`, which must equal [`render_avro_schema`] (a test says so and rewrites
//!   it with `USERSTREAM_BLESS=1`);
//! - the store's typed row `StoredUser` and its column list (`crates/store`);
//! - the Cassandra table, checked against the migrations (`crates/store`);
//! - the Spark projection of the users query (`crates/stream/src/plan.rs`);
//! - `verify`'s field-by-field comparison (`crates/verify/src/verify.rs`).
//!
//! The derived columns' rules live in [`crate::derive`].

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::derive::Rule;

/// Calls the macro `$callback` with the declaration of every column of `users`, in table
/// order: first the fields of the Avro record the producer writes, then the columns the
/// streaming job adds.
///
/// A record field reads `/// doc` (one line: it is the Avro `doc`), then
/// `name: required|nullable Kind, how;` where `Kind` is a [`Kind`] variant and `how` is
/// `key`, `copied`, or `rule <Rule>` (the job stores the [`Rule`]'s result instead of the
/// field as sent). A job column reads `name: Kind, rule <Rule>;` or `name: Kind, job
/// <JobValue>;`. Adding an optional field: see "Evolving the record" in the README.
#[macro_export]
macro_rules! user_record {
    ($callback:ident) => {
        $callback! {
            record {
                /// login.uuid, lowercase hyphenated UUID; the record key.
                id: required Uuid, key;
                /// name.title
                title: nullable Text, copied;
                /// name.first, in its original script
                first_name: nullable Text, copied;
                /// name.last, in its original script
                last_name: nullable Text, copied;
                /// gender
                gender: nullable Text, copied;
                /// location.street.number
                street_number: nullable Int, copied;
                /// location.street.name
                street_name: nullable Text, copied;
                /// location.city
                city: nullable Text, copied;
                /// location.state
                state: nullable Text, copied;
                /// location.country
                country: nullable Text, copied;
                /// location.postcode; the API sends an int or a string, kept as text
                postcode: nullable Text, copied;
                /// One line: 'number street, city, state postcode, country', missing parts left out
                display_address: nullable Text, rule DisplayAddress;
                /// location.coordinates.latitude in degrees, -90..90
                latitude: nullable Double, copied;
                /// location.coordinates.longitude in degrees, -180..180
                longitude: nullable Double, copied;
                /// location.timezone.offset as sent, e.g. '+5:30', '0:00', '-3:30'
                timezone_offset: nullable Text, copied;
                /// location.timezone.description
                timezone_description: nullable Text, copied;
                /// email
                email: nullable Text, rule Email;
                /// login.username; always sent together with login.uuid
                username: required Text, copied;
                /// dob.date (UTC)
                dob: nullable Timestamp, copied;
                /// registered.date (UTC)
                registered: nullable Timestamp, copied;
                /// phone
                phone: nullable Text, copied;
                /// cell
                cell: nullable Text, copied;
                /// id.name; the API's empty string is stored as null
                id_name: nullable Text, copied;
                /// id.value; often null in the API
                id_value: nullable Text, copied;
                /// picture.large
                picture_url: nullable Text, copied;
                /// nat, e.g. 'US', 'IR'
                nationality: nullable Text, copied;
                /// When the producer parsed the record (UTC); carried end to end to measure latency
                produced_at: required Timestamp, copied;
                /// The request URL the record came from
                source_url: required Text, copied;
                /// The seed of that response (info.seed, else the request's)
                source_seed: required Text, copied;
                /// The page requested
                source_page: required Int, copied;
                /// Index of the record within results[]
                source_index: required Int, copied;
            }
            job {
                /// `first last`, computed by the job.
                full_name: Text, rule FullName;
                /// Domain part of the email, computed by the job.
                email_domain: Text, rule EmailDomain;
                /// Whole years between `dob` and `processed_at` (UTC), computed by the job.
                age_at_ingest: Int, rule AgeAtIngest;
                /// When the job's micro-batch ran (`current_timestamp()`).
                processed_at: Timestamp, job ProcessedAt;
                /// Kafka topic the record was read from.
                kafka_topic: Text, job KafkaTopic;
                /// Kafka partition of the record.
                kafka_partition: Int, job KafkaPartition;
                /// Kafka offset of the record.
                kafka_offset: Long, job KafkaOffset;
                /// Kafka timestamp of the record.
                kafka_timestamp: Timestamp, job KafkaTimestamp;
                /// Registry id of the schema the record was written with.
                schema_id: Long, job SchemaId;
            }
        }
    };
}

/// The logical type of a column, which fixes its Avro, Cassandra and Rust types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Avro `string` (a lowercase hyphenated UUID), Cassandra `uuid`, Rust [`Uuid`].
    Uuid,
    /// Avro `string`, Cassandra `text`, Rust `String`.
    Text,
    /// Avro `int`, Cassandra `int`, Rust `i32`.
    Int,
    /// Avro `long`, Cassandra `bigint`, Rust `i64`.
    Long,
    /// Avro `double`, Cassandra `double`, Rust `f64`.
    Double,
    /// Avro `long` with logical type `timestamp-millis`, Cassandra `timestamp`, Rust
    /// `DateTime<Utc>` (millisecond precision).
    Timestamp,
}

impl Kind {
    /// The Cassandra (CQL) type name, as `system_schema.columns` spells it.
    pub fn cql_type(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::Text => "text",
            Self::Int => "int",
            Self::Long => "bigint",
            Self::Double => "double",
            Self::Timestamp => "timestamp",
        }
    }

    /// The Avro type, as JSON (without the `null` branch of a nullable field).
    pub fn avro_type_json(self) -> &'static str {
        match self {
            Self::Uuid | Self::Text => r#""string""#,
            Self::Int => r#""int""#,
            Self::Long => r#""long""#,
            Self::Double => r#""double""#,
            Self::Timestamp => r#"{"type": "long", "logicalType": "timestamp-millis"}"#,
        }
    }
}

/// Whether the Avro record may hold `null` for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Always sent.
    Required,
    /// `["null", T]` with default `null`: randomuser.me can leave it out (`inc`/`exc`), and
    /// later versions stay BACKWARD-compatible.
    Nullable,
}

/// A column the job fills from the Kafka record's metadata or the batch, not from the
/// decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobValue {
    /// When the micro-batch ran.
    ProcessedAt,
    /// The record's topic.
    KafkaTopic,
    /// The record's partition.
    KafkaPartition,
    /// The record's offset.
    KafkaOffset,
    /// The record's Kafka timestamp.
    KafkaTimestamp,
    /// The registry id in the record's Confluent frame.
    SchemaId,
}

/// What the job stores in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The record's key, as sent (the job only lower-cases the text before Cassandra parses
    /// it as a `uuid`).
    Key,
    /// The record's field, unchanged.
    Copied,
    /// The result of a derivation rule over the record ([`crate::derive`]).
    Rule(Rule),
    /// Something the job knows about the Kafka record or the batch.
    Job(JobValue),
}

/// One column of `users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name; also the Avro field name and the Rust field name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// How the Avro record carries it; `None`: not in the record (the job adds it).
    pub avro: Option<Presence>,
    /// What the job stores.
    pub stored: Stored,
    /// What it holds (for a record field, its Avro `doc`).
    pub doc: &'static str,
}

impl Column {
    /// The documentation text without the leading space a `///` comment leaves.
    pub fn doc_text(&self) -> &'static str {
        self.doc.trim()
    }
}

/// Maps the declaration's tokens to a [`Column`].
macro_rules! define_columns {
    (
        record { $( $(#[doc = $doc:literal])* $name:ident : $presence:ident $kind:ident , $how:ident $($what:ident)? ; )* }
        job { $( $(#[doc = $jdoc:literal])* $jname:ident : $jkind:ident , $jhow:ident $jwhat:ident ; )* }
    ) => {
        /// Every column of `users`, in table order: the record's fields (in Avro field order),
        /// then the job's columns.
        pub const COLUMNS: &[Column] = &[
            $(Column {
                name: stringify!($name),
                kind: Kind::$kind,
                avro: Some(presence!($presence)),
                stored: stored!($how $($what)?),
                doc: concat!($($doc),*),
            },)*
            $(Column {
                name: stringify!($jname),
                kind: Kind::$jkind,
                avro: None,
                stored: stored!($jhow $jwhat),
                doc: concat!($($jdoc),*),
            },)*
        ];
    };
}

macro_rules! presence {
    (required) => {
        Presence::Required
    };
    (nullable) => {
        Presence::Nullable
    };
}

macro_rules! stored {
    (key) => {
        Stored::Key
    };
    (copied) => {
        Stored::Copied
    };
    (rule $rule:ident) => {
        Stored::Rule(Rule::$rule)
    };
    (job $value:ident) => {
        Stored::Job(JobValue::$value)
    };
}

user_record!(define_columns);

/// The columns the Avro record carries, in field order.
pub fn record_columns() -> impl Iterator<Item = &'static Column> {
    COLUMNS.iter().filter(|c| c.avro.is_some())
}

/// The column named `name`.
pub fn column(name: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.name == name)
}

/// Name of the Avro record.
pub const RECORD_NAME: &str = "User";
/// Namespace of the Avro record.
pub const RECORD_NAMESPACE: &str = "dev.userstream";
/// Doc of the Avro record.
pub const RECORD_DOC: &str = "One randomuser.me user, normalized, without login secrets. \
    Key: id. Fields that randomuser.me can leave out (inc/exc) are nullable with default null, \
    so later versions stay BACKWARD-compatible.";

/// The Avro schema of the record, as `schema/user.avsc` holds it (one field per line).
pub fn render_avro_schema() -> String {
    let json = |s: &str| serde_json::Value::from(s).to_string();
    let fields: Vec<String> = record_columns()
        .map(|c| {
            let (ty, default) = match c.avro {
                Some(Presence::Nullable) => (
                    format!(r#"["null", {}]"#, c.kind.avro_type_json()),
                    r#" "default": null,"#,
                ),
                _ => (c.kind.avro_type_json().to_owned(), ""),
            };
            format!(
                r#"    {{"name": {}, "type": {ty},{default} "doc": {}}}"#,
                json(c.name),
                json(c.doc_text())
            )
        })
        .collect();
    format!(
        "{{\n  \"type\": \"record\",\n  \"name\": {},\n  \"namespace\": {},\n  \"doc\": {},\n  \
         \"fields\": [\n{}\n  ]\n}}\n",
        json(RECORD_NAME),
        json(RECORD_NAMESPACE),
        json(RECORD_DOC),
        fields.join(",\n")
    )
}

/// One column's value in a form every side can give: the record (through the rules), the
/// stored row, and the comparison in `verify`.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// A [`Kind::Uuid`].
    Uuid(Uuid),
    /// A [`Kind::Text`].
    Text(String),
    /// A [`Kind::Int`].
    Int(i32),
    /// A [`Kind::Long`].
    Long(i64),
    /// A [`Kind::Double`].
    Double(f64),
    /// A [`Kind::Timestamp`], milliseconds since the epoch.
    Timestamp(i64),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Uuid(id) => write!(f, "{id}"),
            Self::Text(s) => write!(f, "{s:?}"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Long(n) => write!(f, "{n}"),
            Self::Double(x) => write!(f, "{x:?}"),
            Self::Timestamp(ms) => match DateTime::<Utc>::from_timestamp_millis(*ms) {
                Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
                None => write!(f, "{ms} ms"),
            },
        }
    }
}

/// A Rust value of a record field as a [`Cell`].
pub trait ToCell {
    /// The value as a cell.
    fn to_cell(&self) -> Cell;
}

impl ToCell for Uuid {
    fn to_cell(&self) -> Cell {
        Cell::Uuid(*self)
    }
}

impl ToCell for String {
    fn to_cell(&self) -> Cell {
        Cell::Text(self.clone())
    }
}

impl ToCell for i32 {
    fn to_cell(&self) -> Cell {
        Cell::Int(*self)
    }
}

impl ToCell for i64 {
    fn to_cell(&self) -> Cell {
        Cell::Long(*self)
    }
}

impl ToCell for f64 {
    fn to_cell(&self) -> Cell {
        Cell::Double(*self)
    }
}

impl ToCell for DateTime<Utc> {
    fn to_cell(&self) -> Cell {
        Cell::Timestamp(self.timestamp_millis())
    }
}

impl<T: ToCell> ToCell for Option<T> {
    fn to_cell(&self) -> Cell {
        self.as_ref().map_or(Cell::Null, ToCell::to_cell)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use apache_avro::Schema;

    use super::*;
    use crate::schema::{user_schema, USER_SCHEMA_JSON};

    #[test]
    fn names_are_unique_and_record_fields_come_first() {
        let names: BTreeSet<&str> = COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), COLUMNS.len());
        let first_job = COLUMNS.iter().position(|c| c.avro.is_none());
        let Some(first_job) = first_job else {
            panic!("the job adds columns");
        };
        assert!(COLUMNS[first_job..].iter().all(|c| c.avro.is_none()));
        assert_eq!(COLUMNS[0].stored, Stored::Key);
        assert_eq!(
            COLUMNS.iter().filter(|c| c.stored == Stored::Key).count(),
            1
        );
        assert!(COLUMNS.iter().all(|c| !c.doc_text().is_empty()));
    }

    /// `schema/user.avsc` is what the registry gets: it must be the declaration, rendered.
    /// `USERSTREAM_BLESS=1 cargo test -p userstream-model --lib user_avsc` rewrites it after a change.
    #[test]
    fn user_avsc_is_the_rendered_declaration() {
        let rendered = render_avro_schema();
        if std::env::var("USERSTREAM_BLESS").as_deref() == Ok("1") && rendered != USER_SCHEMA_JSON {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/user.avsc");
            std::fs::write(path, &rendered).expect("write schema/user.avsc");
            return;
        }
        assert!(
            rendered == USER_SCHEMA_JSON,
            "schema/user.avsc differs from the declaration in record.rs; if the declaration is \
             right, rewrite the file with `USERSTREAM_BLESS=1 cargo test -p userstream-model --lib user_avsc`.\n\
             rendered:\n{rendered}"
        );
    }

    /// Field by field, the parsed schema against the declaration: name, order, type,
    /// nullability and default.
    #[test]
    fn avro_schema_fields_match_the_declaration() {
        let Schema::Record(record) = user_schema() else {
            panic!("expected a record");
        };
        let declared: Vec<&Column> = record_columns().collect();
        let names: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
        let declared_names: Vec<&str> = declared.iter().map(|c| c.name).collect();
        assert_eq!(names, declared_names);
        for (field, column) in record.fields.iter().zip(declared) {
            let (schema, nullable) = match &field.schema {
                Schema::Union(union) => {
                    assert!(
                        matches!(union.variants(), [Schema::Null, _]),
                        "{}",
                        field.name
                    );
                    assert_eq!(
                        field.default,
                        Some(serde_json::Value::Null),
                        "{}",
                        field.name
                    );
                    (&union.variants()[1], true)
                }
                other => (other, false),
            };
            assert_eq!(
                nullable,
                column.avro == Some(Presence::Nullable),
                "{}: nullability",
                field.name
            );
            let kind_matches = match column.kind {
                Kind::Uuid | Kind::Text => matches!(schema, Schema::String),
                Kind::Int => matches!(schema, Schema::Int),
                Kind::Long => matches!(schema, Schema::Long),
                Kind::Double => matches!(schema, Schema::Double),
                Kind::Timestamp => matches!(schema, Schema::TimestampMillis),
            };
            assert!(
                kind_matches,
                "{}: {:?} vs {schema:?}",
                field.name, column.kind
            );
        }
    }

    #[test]
    fn cells_display_for_reports() {
        assert_eq!(Cell::Null.to_string(), "null");
        assert_eq!(Cell::Text("a\"b".into()).to_string(), r#""a\"b""#);
        assert_eq!(
            Cell::Timestamp(1_700_000_000_123).to_string(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(Some(3).to_cell(), Cell::Int(3));
        assert_eq!(None::<String>.to_cell(), Cell::Null);
    }
}
