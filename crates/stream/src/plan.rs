//! The job's Spark plan: source and sink options, the decode step and the transformations, as
//! Spark SQL expressions and Spark Connect protobuf expressions. No I/O here; [`build`]
//! only assembles unresolved plans that the server analyses when a query starts.

use spark_connect_rs::column::Column;
use spark_connect_rs::functions::{col, expr, lit};
use spark_connect_rs::spark;
use spark_connect_rs::{DataFrame, SparkSession};

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

/// Options of the Kafka source, in the order they are set.
pub fn kafka_source_options(config: &StreamConfig) -> Vec<(String, String)> {
    let mut options = vec![
        (
            "kafka.bootstrap.servers".to_owned(),
            config.bootstrap_servers.clone(),
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
    options
}

/// Options of the Cassandra sink writing to `table`.
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

/// Fields of the `User` record copied unchanged (the Avro field name is the column name).
pub const PASSTHROUGH_FIELDS: &[&str] = &[
    "title",
    "first_name",
    "last_name",
    "gender",
    "street_number",
    "street_name",
    "city",
    "state",
    "country",
    "postcode",
    "latitude",
    "longitude",
    "timezone_offset",
    "timezone_description",
    "username",
    "dob",
    "registered",
    "phone",
    "cell",
    "id_name",
    "id_value",
    "picture_url",
    "nationality",
    "produced_at",
    "source_url",
    "source_seed",
    "source_page",
    "source_index",
];

/// Whole years from `dob` to `at`, by calendar (the birthday counts on its day), in the
/// session time zone (the job sets UTC).
fn age_sql(at: &str) -> String {
    format!(
        "CAST(year({at}) - year(decoded.dob) - CASE WHEN month({at}) < month(decoded.dob) \
         OR (month({at}) = month(decoded.dob) AND dayofmonth({at}) < dayofmonth(decoded.dob)) \
         THEN 1 ELSE 0 END AS INT)"
    )
}

/// `number street, city, state postcode, country`, parts trimmed, empty parts and their
/// separators left out; NULL when nothing is there. Same rule as the producer's.
pub const DISPLAY_ADDRESS_SQL: &str = "nullif(concat_ws(', ', \
     nullif(concat_ws(' ', CAST(decoded.street_number AS STRING), nullif(trim(decoded.street_name), '')), ''), \
     nullif(trim(decoded.city), ''), \
     nullif(concat_ws(' ', nullif(trim(decoded.state), ''), nullif(trim(decoded.postcode), '')), ''), \
     nullif(trim(decoded.country), '')), '')";

/// The users query's output columns, as `<expression> AS <column>` (one per column of
/// `users`). See `spark/README.md` for each transformation.
pub fn user_columns_sql() -> Vec<String> {
    let mut columns = vec!["lower(decoded.id) AS id".to_owned()];
    columns.extend(
        PASSTHROUGH_FIELDS
            .iter()
            .map(|f| format!("decoded.{f} AS {f}")),
    );
    columns.extend([
        "lower(trim(decoded.email)) AS email".to_owned(),
        "CASE WHEN instr(decoded.email, '@') > 0 \
         THEN substring_index(lower(trim(decoded.email)), '@', -1) END AS email_domain"
            .to_owned(),
        "nullif(concat_ws(' ', nullif(trim(decoded.first_name), ''), \
         nullif(trim(decoded.last_name), '')), '') AS full_name"
            .to_owned(),
        format!("{DISPLAY_ADDRESS_SQL} AS display_address"),
        format!("{} AS age_at_ingest", age_sql("current_timestamp()")),
        "current_timestamp() AS processed_at".to_owned(),
        "topic AS kafka_topic".to_owned(),
        "partition AS kafka_partition".to_owned(),
        "offset AS kafka_offset".to_owned(),
        "timestamp AS kafka_timestamp".to_owned(),
        "schema_id".to_owned(),
    ]);
    columns
}

/// The reason a row is rejected, most basic failure first.
pub fn reject_reason_sql(known_ids: &[u32]) -> String {
    let ids = if known_ids.is_empty() {
        "NULL".to_owned()
    } else {
        known_ids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "CASE WHEN value IS NULL OR length(value) < 5 THEN 'too_short' \
         WHEN substring(value, 1, 1) <> X'00' THEN 'bad_magic' \
         WHEN NOT coalesce(schema_id IN ({ids}), false) THEN 'unknown_schema_id' \
         WHEN decoded.id IS NULL THEN 'avro_decode_failed' \
         ELSE 'invalid_id' END"
    )
}

/// The rejected query's output columns (one per column of `rejected_rows`).
pub fn rejected_columns_sql(known_ids: &[u32]) -> Vec<String> {
    vec![
        "topic".to_owned(),
        "partition AS kafka_partition".to_owned(),
        "offset AS kafka_offset".to_owned(),
        format!("{} AS reason", reject_reason_sql(known_ids)),
        "schema_id".to_owned(),
        "value AS payload".to_owned(),
        "CAST(coalesce(length(value), 0) AS INT) AS payload_size".to_owned(),
        "timestamp AS kafka_timestamp".to_owned(),
        "current_timestamp() AS first_seen".to_owned(),
    ]
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

/// Kafka → schema id → decoded struct: the part both queries share.
fn framed(spark: &SparkSession, config: &StreamConfig, schemas: &[WriterSchema]) -> DataFrame {
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
    // `spark_partition_id()` is non-deterministic: see `valid_sql`.
    .select([
        col("*"),
        decoded_column(schemas).alias("decoded"),
        expr("spark_partition_id()").alias("_pin"),
    ])
}

/// Builds both DataFrames for `schemas` (at least one).
pub fn build(spark: &SparkSession, config: &StreamConfig, schemas: &[WriterSchema]) -> JobPlan {
    let known: Vec<u32> = schemas.iter().map(|s| s.id).collect();
    let users = framed(spark, config, schemas)
        .filter(valid_sql().as_str())
        .select_expr(user_columns_sql());
    let rejected = framed(spark, config, schemas)
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

    #[test]
    fn every_users_column_is_produced_once() {
        let columns = user_columns_sql();
        let names: Vec<&str> = columns
            .iter()
            .map(|c| c.rsplit(' ').next().unwrap_or(c))
            .collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        // 31 fields of the record (display_address recomputed) + 9 added by the job.
        assert_eq!(names.len(), 31 + 9 - 1 + 1, "{names:?}");
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
    }

    #[test]
    fn reasons_name_known_ids() {
        assert!(reject_reason_sql(&[1, 2]).contains("schema_id IN (1, 2)"));
        assert!(reject_reason_sql(&[]).contains("schema_id IN (NULL)"));
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
}
