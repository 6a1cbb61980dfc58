//! Versioned, idempotent schema migrations recorded in `<keyspace>.schema_migrations`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::value::CqlTimestamp;
use serde::Serialize;

use crate::{check_identifier, StoreError};

/// The table the streaming job writes users to.
pub const USERS_TABLE: &str = "users";
/// The table the streaming job writes records it cannot decode to (declared in
/// [`userstream_model::rejected`]).
pub use userstream_model::rejected::REJECTED_TABLE;
/// The table that records applied migrations.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

/// How a keyspace is replicated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Replication {
    /// `SimpleStrategy` with one replication factor (a single data centre; the default, RF 1,
    /// fits the one-node local stack).
    Simple {
        /// Copies of each row.
        replication_factor: u32,
    },
    /// `NetworkTopologyStrategy` with a replication factor per data centre.
    NetworkTopology {
        /// (data centre, replication factor) pairs.
        data_centers: Vec<(String, u32)>,
    },
}

impl Default for Replication {
    fn default() -> Self {
        Self::Simple {
            replication_factor: 1,
        }
    }
}

impl Replication {
    /// The CQL map literal, e.g. `{'class': 'SimpleStrategy', 'replication_factor': 1}`.
    pub fn to_cql(&self) -> Result<String, StoreError> {
        match self {
            Self::Simple { replication_factor } => {
                if *replication_factor == 0 {
                    return Err(StoreError::InvalidReplication(
                        "replication factor must be at least 1".into(),
                    ));
                }
                Ok(format!(
                    "{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}"
                ))
            }
            Self::NetworkTopology { data_centers } => {
                if data_centers.is_empty() {
                    return Err(StoreError::InvalidReplication(
                        "NetworkTopologyStrategy needs at least one data centre".into(),
                    ));
                }
                let mut parts = vec!["'class': 'NetworkTopologyStrategy'".to_owned()];
                for (dc, rf) in data_centers {
                    if dc.is_empty()
                        || !dc
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                    {
                        return Err(StoreError::InvalidReplication(format!(
                            "data centre name `{dc}` (letters, digits, `_`, `-`, `.`)"
                        )));
                    }
                    parts.push(format!("'{dc}': {rf}"));
                }
                Ok(format!("{{{}}}", parts.join(", ")))
            }
        }
    }
}

/// `simple:1`, `SimpleStrategy:3`, or `dc1:3,dc2:2` (NetworkTopologyStrategy).
impl FromStr for Replication {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            StoreError::InvalidReplication(format!(
                "`{s}`: {why}; expected `simple:<rf>` or `<dc>:<rf>[,<dc>:<rf>...]`"
            ))
        };
        let pairs: Vec<(&str, &str)> = s
            .split(',')
            .map(|p| p.trim().split_once(':').ok_or_else(|| bad("missing `:`")))
            .collect::<Result<_, _>>()?;
        let parse_rf = |rf: &str| {
            rf.trim()
                .parse::<u32>()
                .map_err(|_| bad("factor is not a number"))
        };
        if let [(class, rf)] = pairs.as_slice() {
            if class.eq_ignore_ascii_case("simple") || class.eq_ignore_ascii_case("SimpleStrategy")
            {
                let replication = Self::Simple {
                    replication_factor: parse_rf(rf)?,
                };
                replication.to_cql()?;
                return Ok(replication);
            }
        }
        let replication = Self::NetworkTopology {
            data_centers: pairs
                .iter()
                .map(|(dc, rf)| Ok((dc.trim().to_owned(), parse_rf(rf)?)))
                .collect::<Result<_, StoreError>>()?,
        };
        replication.to_cql()?;
        Ok(replication)
    }
}

impl fmt::Display for Replication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Simple { replication_factor } => write!(f, "simple:{replication_factor}"),
            Self::NetworkTopology { data_centers } => {
                let parts: Vec<String> = data_centers
                    .iter()
                    .map(|(dc, rf)| format!("{dc}:{rf}"))
                    .collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

/// One schema change. Statements use `{ks}` for the keyspace and are idempotent.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Increasing version number, never reused.
    pub version: i32,
    /// What it does, for humans.
    pub name: &'static str,
    /// CQL statements, run in order.
    pub statements: &'static [&'static str],
}

/// Every migration, in version order. Append only: never edit one that has shipped.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "users table",
        statements: &["CREATE TABLE IF NOT EXISTS {ks}.users (
            id uuid PRIMARY KEY,
            title text,
            first_name text,
            last_name text,
            gender text,
            street_number int,
            street_name text,
            city text,
            state text,
            country text,
            postcode text,
            display_address text,
            latitude double,
            longitude double,
            timezone_offset text,
            timezone_description text,
            email text,
            username text,
            dob timestamp,
            registered timestamp,
            phone text,
            cell text,
            id_name text,
            id_value text,
            picture_url text,
            nationality text,
            produced_at timestamp,
            source_url text,
            source_seed text,
            source_page int,
            source_index int,
            full_name text,
            email_domain text,
            age_at_ingest int,
            processed_at timestamp,
            kafka_topic text,
            kafka_partition int,
            kafka_offset bigint,
            kafka_timestamp timestamp,
            schema_id bigint
        ) WITH comment = 'userstream: one row per user (login.uuid), upserted by the Spark job'"],
    },
    Migration {
        version: 2,
        name: "rejected_rows table",
        statements: &["CREATE TABLE IF NOT EXISTS {ks}.rejected_rows (
            topic text,
            kafka_partition int,
            kafka_offset bigint,
            reason text,
            schema_id bigint,
            payload blob,
            payload_size int,
            kafka_timestamp timestamp,
            first_seen timestamp,
            PRIMARY KEY ((topic, kafka_partition), kafka_offset)
        ) WITH comment = 'userstream: Kafka records the Spark job could not decode'"],
    },
];

/// The columns of `users` once every migration has run, as `(name, CQL type)` in the order
/// they were created: read from the migrations' own CQL (`CREATE TABLE {ks}.users (...)`,
/// then `ALTER TABLE {ks}.users ADD ...` / `DROP ...`), without a server. This is what the
/// record's declaration ([`userstream_model::record::COLUMNS`]) is checked against.
pub fn users_table_columns() -> Result<Vec<(String, String)>, String> {
    replay_table(
        USERS_TABLE,
        MIGRATIONS.iter().flat_map(|m| m.statements.iter().copied()),
    )
}

/// The columns of `rejected_rows` once every migration has run, read like
/// [`users_table_columns`]: what [`userstream_model::rejected::REJECTED_COLUMNS`] is checked
/// against.
pub fn rejected_table_columns() -> Result<Vec<(String, String)>, String> {
    replay_table(
        REJECTED_TABLE,
        MIGRATIONS.iter().flat_map(|m| m.statements.iter().copied()),
    )
}

/// `table`'s columns after `statements` (its `CREATE TABLE`, then its `ALTER TABLE`s; other
/// tables' statements are skipped).
fn replay_table<'a>(
    table: &str,
    statements: impl Iterator<Item = &'a str>,
) -> Result<Vec<(String, String)>, String> {
    let mut columns: Vec<(String, String)> = Vec::new();
    let create = format!("CREATE TABLE IF NOT EXISTS {{ks}}.{table} (");
    let alter = format!("ALTER TABLE {{ks}}.{table} ");
    for statement in statements {
        let statement = statement.trim();
        if let Some(body) = statement.strip_prefix(create.as_str()) {
            let body = body
                .rsplit_once(')')
                .map(|(body, _)| body)
                .ok_or_else(|| format!("no closing parenthesis in {statement}"))?;
            for definition in split_top_level(body) {
                let words: Vec<&str> = definition.split_whitespace().collect();
                match words.as_slice() {
                    ["PRIMARY", "KEY", ..] => {}
                    [name, cql, ..] => columns.push(((*name).to_owned(), cql.to_lowercase())),
                    _ => return Err(format!("cannot read column `{definition}` of {statement}")),
                }
            }
        } else if let Some(change) = statement.strip_prefix(alter.as_str()) {
            let words: Vec<&str> = change.split_whitespace().collect();
            match words.as_slice() {
                ["ADD", "IF", "NOT", "EXISTS", name, cql] | ["ADD", name, cql] => {
                    if !columns.iter().any(|(n, _)| n == name) {
                        columns.push(((*name).to_owned(), cql.to_lowercase()));
                    }
                }
                ["DROP", "IF", "EXISTS", name] | ["DROP", name] => {
                    columns.retain(|(n, _)| n != name);
                }
                _ => {
                    return Err(format!(
                        "cannot read `{statement}`: write one `ALTER TABLE {{ks}}.{table} \
                         ADD IF NOT EXISTS <column> <type>` per column"
                    ))
                }
            }
        }
    }
    Ok(columns)
}

/// `a int, b text, PRIMARY KEY ((a), b)` → its comma-separated parts, commas inside
/// parentheses kept.
fn split_top_level(body: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(body[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(body[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// A migration [`migrate`] applied in this call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    /// Its version.
    pub version: i32,
    /// Its name.
    pub name: String,
}

/// Lets the application role `role` read and write `keyspace` (SELECT, MODIFY) and read the
/// node's metrics views, and nothing else: it cannot create, alter or drop tables or
/// keyspaces, nor grant. Idempotent; run by
/// `setup` as the admin role after [`migrate`].
pub async fn grant_application_role(
    session: &Session,
    keyspace: &str,
    role: &str,
) -> Result<(), StoreError> {
    check_identifier(keyspace)?;
    check_identifier(role)?;
    // Its one read outside the keyspace: the write counter the console shows
    // (`system_views.local_write_latency`, metrics without data).
    for grant in [
        format!("SELECT ON KEYSPACE {keyspace}"),
        format!("MODIFY ON KEYSPACE {keyspace}"),
        "SELECT ON KEYSPACE system_views".to_owned(),
    ] {
        let cql = format!("GRANT {grant} TO {role}");
        session
            .query_unpaged(cql.as_str(), &[])
            .await
            .map_err(|e| StoreError::query(&cql, e))?;
    }
    Ok(())
}

/// Creates `keyspace` (with `replication`) if it does not exist, then applies the migrations it
/// has not recorded yet, in order; returns those applied now (empty when up to date). Safe to
/// run again and concurrently: statements are `IF NOT EXISTS`; an existing keyspace keeps its
/// replication.
pub async fn migrate(
    session: &Session,
    keyspace: &str,
    replication: &Replication,
) -> Result<Vec<AppliedMigration>, StoreError> {
    check_identifier(keyspace)?;
    let create_keyspace = format!(
        "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {}",
        replication.to_cql()?
    );
    run(session, &create_keyspace).await?;
    let create_log = format!(
        "CREATE TABLE IF NOT EXISTS {keyspace}.{MIGRATIONS_TABLE} (
            version int PRIMARY KEY, name text, applied_at timestamp)"
    );
    run(session, &create_log).await?;

    let done = applied_versions(session, keyspace).await?;
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        if done.contains(&migration.version) {
            continue;
        }
        for statement in migration.statements {
            run(session, &statement.replace("{ks}", keyspace)).await?;
        }
        let record = format!(
            "INSERT INTO {keyspace}.{MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)"
        );
        let now = CqlTimestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        );
        session
            .query_unpaged(record.as_str(), (migration.version, migration.name, now))
            .await
            .map_err(|e| StoreError::query(&record, e))?;
        tracing::info!(
            keyspace,
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
        applied.push(AppliedMigration {
            version: migration.version,
            name: migration.name.to_owned(),
        });
    }
    Ok(applied)
}

async fn run(session: &Session, cql: &str) -> Result<(), StoreError> {
    session
        .query_unpaged(cql, &[])
        .await
        .map_err(|e| StoreError::query(cql, e))?;
    Ok(())
}

async fn applied_versions(session: &Session, keyspace: &str) -> Result<BTreeSet<i32>, StoreError> {
    let query = format!("SELECT version FROM {keyspace}.{MIGRATIONS_TABLE}");
    let rows = session
        .query_iter(query.as_str(), &[])
        .await
        .map_err(|e| StoreError::query(&query, e))?
        .rows_stream::<(i32,)>()
        .map_err(|e| StoreError::query(&query, e))?;
    rows.map_ok(|(v,)| v)
        .try_collect()
        .await
        .map_err(|e| StoreError::query(&query, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_cql() -> Result<(), StoreError> {
        assert_eq!(
            Replication::default().to_cql()?,
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        );
        let nts: Replication = "dc1:3, dc2:2".parse()?;
        assert_eq!(
            nts.to_cql()?,
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"
        );
        assert_eq!(nts.to_string(), "dc1:3,dc2:2");
        assert_eq!(
            "simple:3".parse::<Replication>()?,
            Replication::Simple {
                replication_factor: 3
            }
        );
        assert!("simple:0".parse::<Replication>().is_err());
        assert!("simple".parse::<Replication>().is_err());
        assert!("dc'1:3".parse::<Replication>().is_err());
        Ok(())
    }

    /// The Cassandra table the migrations build is the one the record declares: same
    /// columns, same types, `id` the key.
    #[test]
    fn users_table_matches_the_declaration() -> Result<(), String> {
        let table = users_table_columns()?;
        let declared: Vec<(String, String)> = userstream_model::record::COLUMNS
            .iter()
            .map(|c| (c.name.to_owned(), c.kind.cql_type().to_owned()))
            .collect();
        let mut sorted_table = table.clone();
        sorted_table.sort();
        let mut sorted_declared = declared.clone();
        sorted_declared.sort();
        assert_eq!(
            sorted_table, sorted_declared,
            "the migrations' users table differs from the record's declaration: a column \
             added to the declaration needs a migration `ALTER TABLE {{ks}}.users ADD IF NOT \
             EXISTS <column> <type>`"
        );
        assert!(MIGRATIONS[0].statements[0].contains("id uuid PRIMARY KEY"));
        Ok(())
    }

    /// The table the migrations build for rejected records is the declared one, column for
    /// column, in order.
    #[test]
    fn rejected_table_matches_the_declaration() -> Result<(), String> {
        let declared: Vec<(String, String)> = userstream_model::rejected::REJECTED_COLUMNS
            .iter()
            .map(|c| (c.name.to_owned(), c.cql_type.to_owned()))
            .collect();
        assert_eq!(
            rejected_table_columns()?,
            declared,
            "the migrations' rejected_rows table differs from \
             userstream_model::rejected::REJECTED_COLUMNS: a new column needs both"
        );
        Ok(())
    }

    /// The step "Evolving the record" asks for: one `ALTER TABLE ... ADD IF NOT EXISTS`.
    #[test]
    fn replays_added_and_dropped_columns() -> Result<(), String> {
        let columns = replay_table(
            USERS_TABLE,
            [
                "CREATE TABLE IF NOT EXISTS {ks}.users (id uuid PRIMARY KEY, a text) WITH x = 'y'",
                "CREATE TABLE IF NOT EXISTS {ks}.other (b int PRIMARY KEY)",
                "ALTER TABLE {ks}.users ADD IF NOT EXISTS nickname text",
                "ALTER TABLE {ks}.users ADD IF NOT EXISTS a text",
                "ALTER TABLE {ks}.users DROP a",
            ]
            .into_iter(),
        )?;
        assert_eq!(
            columns,
            [
                ("id".to_owned(), "uuid".to_owned()),
                ("nickname".to_owned(), "text".to_owned())
            ]
        );
        assert!(replay_table(
            USERS_TABLE,
            ["ALTER TABLE {ks}.users ADD x int, y int"].into_iter()
        )
        .is_err());
        Ok(())
    }

    #[test]
    fn splits_column_definitions() {
        assert_eq!(
            split_top_level("a int, b text, PRIMARY KEY ((a, b), c)"),
            ["a int", "b text", "PRIMARY KEY ((a, b), c)"]
        );
    }

    #[test]
    fn migrations_are_ordered_and_keyspace_relative() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted, "versions strictly increasing");
        for m in MIGRATIONS {
            for s in m.statements {
                assert!(s.contains("{ks}."), "{} names its keyspace", m.name);
                assert!(s.contains("IF NOT EXISTS"), "{} is idempotent", m.name);
            }
        }
    }
}
