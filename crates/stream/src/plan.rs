//! The job's Spark plan: source and sink options, the decode step and the transformations, as
//! Spark SQL expressions and Spark Connect protobuf expressions. No I/O here; [`build`]
//! only assembles unresolved plans that the server analyses when a query starts.

use spark_connect_rs::column::Column;
use spark_connect_rs::functions::{col, expr, lit};
use spark_connect_rs::spark;
use spark_connect_rs::{DataFrame, SparkSession};

use userstream_model::record::{JobValue, Stored, COLUMNS};
use userstream_model::rejected::{RejectedValue, UndecodableReason, REJECTED_COLUMNS};

use crate::StreamConfig;

/// One writer schema the job can decode: a registry id and its Avro JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSchema {
    /// Registry schema id, as written in the Confluent frame.
    pub id: u32,
    /// Subject version.
    pub version: u32,
    /// The Avro schema (JSON).
    pub schema: String,
}

/// Options of the Kafka source, in the order they are set. Never a credential: the Spark
/// Connect server logs and shows whole plans, so its Kafka clients log in with the server's
/// own JAAS file (the stack renders it with the reader's login). With a login in
/// `bootstrap_servers`, the source only turns SASL on.
pub fn kafka_source_options(config: &StreamConfig) -> Vec<(String, String)> {
    let mut options = vec![
        (
            "kafka.bootstrap.servers".to_owned(),
            config.bootstrap_servers.bootstrap.clone(),
        ),
        ("subscribe".to_owned(), config.topic.clone()),
        (
            "startingOffsets".to_owned(),
            config.starting_offsets.clone(),
        ),
        (
            "maxOffsetsPerTrigger".to_owned(),
            config.max_offsets_per_trigger.to_string(),
        ),
        (
            "failOnDataLoss".to_owned(),
            config.fail_on_data_loss.to_string(),
        ),
    ];
    if let Some(min) = config.min_partitions {
        options.push(("minPartitions".to_owned(), min.to_string()));
    }
    if config.bootstrap_servers.login.is_some() {
        options.extend([
            (
                "kafka.security.protocol".to_owned(),
                "SASL_PLAINTEXT".to_owned(),
            ),
            (
                "kafka.sasl.mechanism".to_owned(),
                "SCRAM-SHA-512".to_owned(),
            ),
        ]);
    }
    options
}

/// Options of the Cassandra sink writing to `table`. Never a credential: the connector logs
/// in with the Spark Connect server's `spark.cassandra.auth.*` (the stack sets the
/// application role there), whatever `config.cassandra_login` says.
pub fn cassandra_sink_options(config: &StreamConfig, table: &str) -> Vec<(String, String)> {
    let out = &config.cassandra_output;
    let mut options = vec![
        ("keyspace".to_owned(), config.keyspace.clone()),
        ("table".to_owned(), table.to_owned()),
        (
            "spark.cassandra.output.concurrent.writes".to_owned(),
            out.concurrent_writes.to_string(),
        ),
        (
            "spark.cassandra.output.consistency.level".to_owned(),
            out.consistency_level.clone(),
        ),
        (
            "spark.cassandra.output.batch.grouping.key".to_owned(),
            out.batch_grouping_key.clone(),
        ),
        // The connector's default (1 h), plus the session generation: see
        // `StreamConfig::connector_session`.
        (
            "spark.cassandra.connection.keepAliveMS".to_owned(),
            (3_600_000 + u64::from(config.connector_session)).to_string(),
        ),
    ];
    if out.ignore_nulls {
        options.push((
            "spark.cassandra.output.ignoreNulls".to_owned(),
            "true".to_owned(),
        ));
    }
    if let Some(bytes) = out.batch_size_bytes {
        options.push((
            "spark.cassandra.output.batch.size.bytes".to_owned(),
            bytes.to_string(),
        ));
    }
    if let Some(rows) = out.batch_size_rows {
        options.push((
            "spark.cassandra.output.batch.size.rows".to_owned(),
            rows.to_string(),
        ));
    }
    options
}

/// The registry schema id of a Confluent-framed `value`, or NULL when `value` is not framed
/// (shorter than the 5-byte header, or a first byte other than the magic 0).
pub const SCHEMA_ID_SQL: &str = "CASE WHEN value IS NULL OR length(value) < 5 THEN NULL \
     WHEN substring(value, 1, 1) <> X'00' THEN NULL \
     ELSE CAST(conv(hex(substring(value, 2, 4)), 16, 10) AS BIGINT) END";

/// What the job raises for a framed record whose schema id it has no decision for: the marker,
/// then the id. The supervisor reads the id back ([`unknown_schema_id`]), asks the registry
/// what it is, and restarts the queries knowing it.
pub const UNKNOWN_SCHEMA_ID_MARKER: &str = "userstream-unknown-schema-id:";

/// Keeps a record whose schema id the job has a decision for: `decided` holds the subject's
/// versions (decoded) and the ids found not to be one (rejected as `unknown_schema_id`);
/// unframed records have no id and go on to be rejected. Any other id fails the micro-batch
/// before anything of it is written, so a record of a schema version registered after the
/// queries started is never committed as rejected: the batch runs again once the supervisor
/// has restarted the queries with the new version.
pub fn schema_id_guard_sql(decided: &[u32]) -> String {
    format!(
        "CASE WHEN schema_id IS NULL OR schema_id IN ({}) THEN true \
         ELSE raise_error(concat('{UNKNOWN_SCHEMA_ID_MARKER}', CAST(schema_id AS STRING), \
         ' (a record framed with a schema id this job does not decode yet: \
         `userstream stream run` or `stream ensure` restarts the job knowing it)')) END",
        id_list(decided)
    )
}

/// The schema id in a query exception raised by [`schema_id_guard_sql`], if it is one.
pub fn unknown_schema_id(exception: &str) -> Option<u32> {
    let (_, rest) = exception.split_once(UNKNOWN_SCHEMA_ID_MARKER)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `1, 2, 3` for SQL `IN (...)`; `NULL` for none (`x IN (NULL)` is never true).
fn id_list(ids: &[u32]) -> String {
    if ids.is_empty() {
        "NULL".to_owned()
    } else {
        ids.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The Avro datum: `value` without its 5-byte header (SQL `substring` is 1-based).
pub const PAYLOAD_SQL: &str = "substring(value, 6)";

const UUID_REGEX: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A decoded record is valid when `from_avro` produced a non-null `id` (PERMISSIVE turns a
/// corrupt datum into a struct of nulls, and `id` is required by the schema) that is a UUID
/// (the Cassandra key; a bad one would fail the whole batch).
///
/// `_pin >= 0` is always true: it references the non-deterministic `_pin` column so that
/// Catalyst neither prunes it nor pushes this filter below the projection that decodes
/// (which would inline `from_avro` into the filter and decode each record three times).
pub fn valid_sql() -> String {
    format!("_pin >= 0 AND decoded.id IS NOT NULL AND decoded.id RLIKE '{UUID_REGEX}'")
}

/// Rows the users query drops and the rejected query keeps.
pub fn rejected_filter_sql() -> String {
    format!("NOT coalesce({}, false)", valid_sql())
}

/// The struct column holding the decoded record.
const RECORD: &str = "decoded";

/// The batch's time: `processed_at`, and the day `age_at_ingest` counts to. Spark evaluates
/// `current_timestamp()` once per micro-batch, so both see the same instant.
const PROCESSED_AT_SQL: &str = "current_timestamp()";

/// The Spark SQL of a column the job fills from the Kafka record or the batch: the Kafka
/// source's own columns, and `schema_id` from [`SCHEMA_ID_SQL`].
fn job_value_sql(value: JobValue) -> &'static str {
    match value {
        JobValue::ProcessedAt => PROCESSED_AT_SQL,
        JobValue::KafkaTopic => "topic",
        JobValue::KafkaPartition => "partition",
        JobValue::KafkaOffset => "offset",
        JobValue::KafkaTimestamp => "timestamp",
        JobValue::SchemaId => "schema_id",
    }
}

/// The users query's output columns, as `<expression> AS <column>`: one per column of the
/// record's declaration ([`userstream_model::record::COLUMNS`]), in table order. Copied
/// fields keep their Avro name; derived ones use the shared rules of
/// [`userstream_model::derive`]. See `spark/README.md` for each transformation.
pub fn user_columns_sql() -> Vec<String> {
    COLUMNS
        .iter()
        .map(|column| {
            let name = column.name;
            let expression = match column.stored {
                // Text to `uuid` is the connector's job; lower-case so every producer's
                // spelling of a UUID maps to one key.
                Stored::Key => format!("lower({RECORD}.{name})"),
                Stored::Copied => format!("{RECORD}.{name}"),
                Stored::Rule(rule) => rule.spark_sql(RECORD, PROCESSED_AT_SQL),
                Stored::Job(value) => job_value_sql(value).to_owned(),
            };
            format!("{expression} AS {name}")
        })
        .collect()
}

/// The reason a row is rejected ([`UndecodableReason`]), most basic failure first.
pub fn reject_reason_sql(known_ids: &[u32]) -> String {
    let ids = id_list(known_ids);
    let test = |reason: UndecodableReason| match reason {
        UndecodableReason::TooShort => "value IS NULL OR length(value) < 5".to_owned(),
        UndecodableReason::BadMagic => "substring(value, 1, 1) <> X'00'".to_owned(),
        UndecodableReason::UnknownSchemaId => format!("NOT coalesce(schema_id IN ({ids}), false)"),
        UndecodableReason::AvroDecodeFailed => "decoded.id IS NULL".to_owned(),
        // What is left: the record decoded, so only the id can be wrong.
        UndecodableReason::InvalidId => "true".to_owned(),
    };
    let (last, checked) = UndecodableReason::ALL
        .split_last()
        .expect("there is at least one reason");
    let mut sql = "CASE".to_owned();
    for reason in checked {
        sql.push_str(&format!(" WHEN {} THEN '{}'", test(*reason), reason.code()));
    }
    sql.push_str(&format!(" ELSE '{}' END", last.code()));
    sql
}

/// The rejected query's output columns: one `<expression> AS <column>` per column of
/// [`REJECTED_COLUMNS`], in table order.
pub fn rejected_columns_sql(known_ids: &[u32]) -> Vec<String> {
    REJECTED_COLUMNS
        .iter()
        .map(|column| {
            let expression = match column.value {
                RejectedValue::Topic => "topic".to_owned(),
                RejectedValue::Partition => "partition".to_owned(),
                RejectedValue::Offset => "offset".to_owned(),
                RejectedValue::Reason => reject_reason_sql(known_ids),
                RejectedValue::SchemaId => "schema_id".to_owned(),
                RejectedValue::Payload => "value".to_owned(),
                RejectedValue::PayloadSize => "CAST(coalesce(length(value), 0) AS INT)".to_owned(),
                RejectedValue::KafkaTimestamp => "timestamp".to_owned(),
                RejectedValue::FirstSeen => "current_timestamp()".to_owned(),
            };
            format!("{expression} AS {}", column.name)
        })
        .collect()
}

fn function(name: &str, arguments: Vec<Column>) -> Column {
    Column::from(spark::Expression {
        expr_type: Some(spark::expression::ExprType::UnresolvedFunction(
            spark::expression::UnresolvedFunction {
                function_name: name.to_owned(),
                arguments: arguments.into_iter().map(|c| c.expression).collect(),
                is_distinct: false,
                is_user_defined_function: false,
            },
        )),
    })
}

/// `from_avro(data, schema, map(options...))`. spark-connect-rs has no helper; the 3.5
/// Connect planner maps an unresolved function of this name to spark-avro's
/// `AvroDataToCatalyst` (schema must be a string literal, options a `map(...)` of literals).
pub fn from_avro(data: Column, schema_json: &str, options: &[(&str, &str)]) -> Column {
    let map_args = options
        .iter()
        .flat_map(|(k, v)| [lit(*k), lit(*v)])
        .collect::<Vec<_>>();
    function(
        "from_avro",
        vec![data, lit(schema_json), function("map", map_args)],
    )
}

/// The decoded struct: for each known writer schema, `from_avro` with that schema (resolved
/// to the latest one, so every branch has the same type) when the frame carries its id;
/// NULL for any other id. PERMISSIVE: a corrupt datum gives a struct of nulls, not an error.
pub fn decoded_column(schemas: &[WriterSchema]) -> Column {
    let latest = schemas.iter().max_by_key(|s| s.version);
    let mut branches = Vec::with_capacity(schemas.len() * 2);
    for schema in schemas {
        let mut options = vec![("mode", "PERMISSIVE")];
        if let Some(latest) = latest.filter(|l| l.id != schema.id) {
            options.push(("avroSchema", latest.schema.as_str()));
        }
        branches.push(expr(&format!("schema_id = {}", schema.id)));
        branches.push(from_avro(expr(PAYLOAD_SQL), &schema.schema, &options));
    }
    // `when(c1, v1, c2, v2, ...)` is CASE WHEN in the Connect planner; no ELSE gives NULL.
    function("when", branches)
}

/// The two streaming DataFrames of the job: decoded users and rejected records.
pub struct JobPlan {
    /// Rows for `users`.
    pub users: DataFrame,
    /// Rows for `rejected_rows`.
    pub rejected: DataFrame,
}

/// Kafka → schema id → guard → decoded struct: the part both queries share. `foreign_ids`
/// are schema ids known not to be versions of the subject (see [`schema_id_guard_sql`]).
fn framed(
    spark: &SparkSession,
    config: &StreamConfig,
    schemas: &[WriterSchema],
    foreign_ids: &[u32],
) -> DataFrame {
    let mut reader = spark.read_stream().format("kafka");
    // One `option` per key: `options()` replaces everything set before it in this crate.
    for (key, value) in kafka_source_options(config)
        .into_iter()
        .chain(config.kafka_options.clone())
    {
        reader = reader.option(&key, &value);
    }
    // `load` without a path cannot fail: it only assembles the relation.
    let raw = match reader.load(None) {
        Ok(df) => df,
        Err(e) => unreachable!("DataStreamReader::load(None) failed: {e}"),
    };
    raw.select([
        col("topic"),
        col("partition"),
        col("offset"),
        col("timestamp"),
        col("value"),
        expr(SCHEMA_ID_SQL).alias("schema_id"),
    ])
    .filter(schema_id_guard_sql(&decided_ids(schemas, foreign_ids)).as_str())
    // `spark_partition_id()` is non-deterministic: see `valid_sql`.
    .select([
        col("*"),
        decoded_column(schemas).alias("decoded"),
        expr("spark_partition_id()").alias("_pin"),
    ])
}

fn decided_ids(schemas: &[WriterSchema], foreign_ids: &[u32]) -> Vec<u32> {
    let mut ids: Vec<u32> = schemas
        .iter()
        .map(|s| s.id)
        .chain(foreign_ids.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Builds both DataFrames for `schemas` (at least one); records framed with one of
/// `foreign_ids` are rejected, with any other unknown id the batch fails.
pub fn build(
    spark: &SparkSession,
    config: &StreamConfig,
    schemas: &[WriterSchema],
    foreign_ids: &[u32],
) -> JobPlan {
    let known: Vec<u32> = schemas.iter().map(|s| s.id).collect();
    let users = framed(spark, config, schemas, foreign_ids)
        .filter(valid_sql().as_str())
        .select_expr(user_columns_sql());
    let rejected = framed(spark, config, schemas, foreign_ids)
        .filter(rejected_filter_sql().as_str())
        .select_expr(rejected_columns_sql(&known));
    JobPlan { users, rejected }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function_name(c: &Column) -> Option<(&str, usize)> {
        match &c.expression.expr_type {
            Some(spark::expression::ExprType::UnresolvedFunction(f)) => {
                Some((f.function_name.as_str(), f.arguments.len()))
            }
            _ => None,
        }
    }

    #[test]
    fn from_avro_is_an_unresolved_function_with_a_map() {
        let c = from_avro(col("payload"), "{}", &[("mode", "PERMISSIVE")]);
        assert_eq!(function_name(&c), Some(("from_avro", 3)));
        let Some(spark::expression::ExprType::UnresolvedFunction(f)) = &c.expression.expr_type
        else {
            panic!("not a function");
        };
        assert_eq!(
            function_name(&Column::from(f.arguments[2].clone())),
            Some(("map", 2))
        );
    }

    #[test]
    fn decoded_resolves_older_versions_to_the_latest() {
        let schemas = [
            WriterSchema {
                id: 7,
                version: 1,
                schema: "old".into(),
            },
            WriterSchema {
                id: 9,
                version: 2,
                schema: "new".into(),
            },
        ];
        let c = decoded_column(&schemas);
        assert_eq!(function_name(&c), Some(("when", 4)));
        let text = format!("{:?}", c.expression);
        assert!(text.contains("schema_id = 7") && text.contains("schema_id = 9"));
        assert!(
            text.contains("avroSchema"),
            "old version gets the reader schema"
        );
    }

    fn output_names(columns: &[String]) -> Vec<&str> {
        columns
            .iter()
            .map(|c| c.rsplit(" AS ").next().unwrap_or(c))
            .collect()
    }

    #[test]
    fn every_users_column_is_produced_once() {
        let columns = user_columns_sql();
        let names = output_names(&columns);
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        // One per declared column: the record's fields and those the job adds.
        assert_eq!(names.len(), COLUMNS.len(), "{names:?}");
        for must in [
            "id",
            "email",
            "full_name",
            "email_domain",
            "age_at_ingest",
            "processed_at",
        ] {
            assert!(names.contains(&must), "{must}");
        }
        assert!(columns.contains(&"lower(decoded.id) AS id".to_owned()));
        assert!(columns.contains(&"decoded.city AS city".to_owned()));
        assert!(columns.contains(&"lower(trim(decoded.email)) AS email".to_owned()));
        assert!(columns.contains(&"topic AS kafka_topic".to_owned()));
        assert!(columns.contains(&"current_timestamp() AS processed_at".to_owned()));
    }

    /// The drift test: the Avro schema (`user.avsc`, as registered), the Cassandra table (as
    /// the migrations build it), the Spark projection and the store's typed row agree on
    /// every field of the record's declaration, and none has a field the others lack.
    #[test]
    fn avro_cassandra_spark_and_typed_row_agree_on_every_field() -> Result<(), String> {
        use serde_json::{json, Value};
        use userstream_model::record::{record_columns, Presence};

        // Avro: the registered schema's fields (`user.avsc`, read as plain JSON), in order.
        let avsc: Value = serde_json::from_str(userstream_model::USER_SCHEMA_JSON)
            .map_err(|e| format!("user.avsc is not JSON: {e}"))?;
        let fields = avsc["fields"].as_array().cloned().unwrap_or_default();
        let avro_names: Vec<&str> = fields.iter().filter_map(|f| f["name"].as_str()).collect();
        let declared: Vec<&str> = record_columns().map(|c| c.name).collect();
        assert_eq!(avro_names, declared, "Avro fields vs the declaration");
        for (column, field) in record_columns().zip(&fields) {
            let kind: Value = serde_json::from_str(column.kind.avro_type_json())
                .map_err(|e| format!("{}: {e}", column.name))?;
            let expected = match column.avro {
                Some(Presence::Nullable) => json!(["null", kind]),
                _ => kind,
            };
            assert_eq!(field["type"], expected, "Avro type of {}", column.name);
        }

        // Cassandra: the table the migrations build.
        let table = userstream_store::users_table_columns()?;
        for column in COLUMNS {
            let found = table.iter().find(|(n, _)| n == column.name);
            assert_eq!(
                found.map(|(_, t)| t.as_str()),
                Some(column.kind.cql_type()),
                "Cassandra column {}",
                column.name
            );
        }
        assert_eq!(table.len(), COLUMNS.len(), "Cassandra columns: {table:?}");

        // Spark: the users query writes exactly the table's columns.
        let columns = user_columns_sql();
        let mut spark = output_names(&columns);
        spark.sort_unstable();
        let mut cassandra: Vec<&str> = table.iter().map(|(n, _)| n.as_str()).collect();
        cassandra.sort_unstable();
        assert_eq!(spark, cassandra, "Spark projection vs Cassandra table");

        // The typed row reads that table (scylla's own type check).
        userstream_store::check_users_row(&table)
            .map_err(|e| format!("StoredUser cannot read the users table: {e}"))?;
        // And it fails on a table that lost a column or changed a type.
        let mut lost = table.clone();
        lost.pop();
        assert!(userstream_store::check_users_row(&lost).is_err());
        let mut retyped = table.clone();
        retyped[1].1 = "int".into();
        assert!(userstream_store::check_users_row(&retyped).is_err());
        Ok(())
    }

    #[test]
    fn reasons_name_known_ids() {
        assert!(reject_reason_sql(&[1, 2]).contains("schema_id IN (1, 2)"));
        assert!(reject_reason_sql(&[]).contains("schema_id IN (NULL)"));
        assert_eq!(
            reject_reason_sql(&[7]),
            "CASE WHEN value IS NULL OR length(value) < 5 THEN 'too_short' \
             WHEN substring(value, 1, 1) <> X'00' THEN 'bad_magic' \
             WHEN NOT coalesce(schema_id IN (7), false) THEN 'unknown_schema_id' \
             WHEN decoded.id IS NULL THEN 'avro_decode_failed' ELSE 'invalid_id' END"
        );
    }

    /// `rejected_rows` is declared once (`userstream_model::rejected`): the job writes exactly
    /// its columns, the migrations build them, and the typed row reads them.
    #[test]
    fn the_rejected_query_writes_the_declared_table() -> Result<(), String> {
        let table = userstream_store::rejected_table_columns()?;
        let spark = rejected_columns_sql(&[1]);
        let names: Vec<&str> = table.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            output_names(&spark),
            names,
            "Spark projection vs Cassandra table"
        );
        userstream_store::check_rejected_row(&table)
            .map_err(|e| format!("RejectedRow cannot read the rejected_rows table: {e}"))?;
        let mut retyped = table.clone();
        retyped[0].1 = "int".into();
        assert!(userstream_store::check_rejected_row(&retyped).is_err());
        Ok(())
    }

    #[test]
    fn the_guard_fails_a_batch_on_an_undecided_id_and_names_it() {
        let guard = schema_id_guard_sql(&[3, 1]);
        assert!(guard.contains("schema_id IN (3, 1)"), "{guard}");
        assert!(guard.contains("raise_error") && guard.contains(UNKNOWN_SCHEMA_ID_MARKER));
        assert!(schema_id_guard_sql(&[]).contains("IN (NULL)"));
        // As Spark reports it: the error class, the message, then the plan.
        let exception = format!(
            "[USER_RAISED_EXCEPTION] {UNKNOWN_SCHEMA_ID_MARKER}2147483632 (a record framed ...)\n== Plan =="
        );
        assert_eq!(unknown_schema_id(&exception), Some(2_147_483_632));
        assert_eq!(unknown_schema_id("Connection refused"), None);
        assert_eq!(unknown_schema_id(UNKNOWN_SCHEMA_ID_MARKER), None);
        let decided = decided_ids(
            &[WriterSchema {
                id: 9,
                version: 2,
                schema: String::new(),
            }],
            &[4, 9],
        );
        assert_eq!(decided, vec![4, 9]);
    }

    #[test]
    fn options_are_typed_settings() {
        let config = StreamConfig::default();
        let kafka = kafka_source_options(&config);
        assert!(kafka.contains(&("subscribe".into(), "users".into())));
        assert!(kafka.contains(&("maxOffsetsPerTrigger".into(), "50000".into())));
        let sink = cassandra_sink_options(&config, "users");
        assert!(sink.contains(&("keyspace".into(), "userstream".into())));
        assert!(sink.contains(&("table".into(), "users".into())));
    }

    #[test]
    fn no_option_carries_a_credential() {
        let mut config = StreamConfig::default();
        config.bootstrap_servers.login =
            Some(userstream_endpoints::Login::new("reader", "kafka-pw-1"));
        config.cassandra_login = Some(userstream_endpoints::Login::new("app", "cql-pw-2"));
        let kafka = kafka_source_options(&config);
        let sink = cassandra_sink_options(&config, "users");
        for (key, value) in kafka.iter().chain(&sink) {
            let key = key.to_ascii_lowercase();
            assert!(
                !value.contains("pw-") && !key.contains("jaas") && !key.contains("auth"),
                "{key}={value}"
            );
        }
        // The source still speaks SASL; the server's JAAS file says who it is.
        assert!(kafka.contains(&("kafka.security.protocol".into(), "SASL_PLAINTEXT".into())));
        assert!(kafka.contains(&("kafka.sasl.mechanism".into(), "SCRAM-SHA-512".into())));
    }
}
