//! `verify`: what Kafka holds against what Cassandra holds.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use rand::seq::SliceRandom;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use userstream_kafka::{base_config, TracingContext};
use userstream_model::User;
use userstream_registry::{Deserializer, RegistryClient};
use userstream_store::{CqlTimestamp, StoredUser};
use uuid::Uuid;

use crate::{StreamConfig, StreamError};

/// How many ids and mismatches a report lists (counts are always complete).
const LIST_LIMIT: usize = 20;

/// How `verify` runs.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Users compared field by field (random sample of those present in both).
    pub sample: usize,
    /// Keep re-reading Cassandra for up to this long while it has not caught up with Kafka
    /// (zero: compare once).
    pub settle: Duration,
    /// Longest time reading the topic may take.
    pub kafka_timeout: Duration,
    /// The producer's dead-letter topic, counted in the report (not part of the verdict:
    /// dead letters never reach the users topic). `None`: not counted.
    pub dlq_topic: Option<String>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            sample: 200,
            settle: Duration::ZERO,
            kafka_timeout: Duration::from_secs(120),
            dlq_topic: Some("users.dlq".to_owned()),
        }
    }
}

/// One field that differs between the record in Kafka and the row in Cassandra.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldMismatch {
    /// The user.
    pub id: Uuid,
    /// The column.
    pub field: String,
    /// What the record (and the job's rules) say it should be.
    pub expected: String,
    /// What Cassandra holds.
    pub actual: String,
}

/// The comparison. [`VerifyReport::ok`] is the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Topic read.
    pub topic: String,
    /// Keyspace read.
    pub keyspace: String,
    /// Records in the topic.
    pub kafka_records: u64,
    /// Records that decode to a `User`.
    pub kafka_decoded: u64,
    /// Records that do not (expected in `rejected_rows`).
    pub kafka_undecodable: u64,
    /// Distinct user ids among the decoded records.
    pub kafka_unique_ids: usize,
    /// Rows in `users`.
    pub cassandra_rows: usize,
    /// Rows of this topic in `rejected_rows`.
    pub rejected_rows: usize,
    /// Messages held in the dead-letter topic (0 when it does not exist); `None` when not
    /// asked for.
    pub dlq_count: Option<i64>,
    /// Ids in Kafka but not in Cassandra.
    pub missing_count: usize,
    /// Some of them.
    pub missing_ids: Vec<Uuid>,
    /// Ids in Cassandra but not in Kafka.
    pub extra_count: usize,
    /// Some of them.
    pub extra_ids: Vec<Uuid>,
    /// Users compared field by field.
    pub sampled: usize,
    /// Differing fields found in the sample.
    pub field_mismatch_count: usize,
    /// Some of them.
    pub field_mismatches: Vec<FieldMismatch>,
    /// No missing or extra ids, no differing field, and as many rejected rows as
    /// undecodable records.
    pub ok: bool,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify {} (Kafka) vs {}.users (Cassandra)",
            self.topic, self.keyspace
        )?;
        writeln!(
            f,
            "  kafka:     {} records, {} decoded ({} distinct ids), {} undecodable",
            self.kafka_records, self.kafka_decoded, self.kafka_unique_ids, self.kafka_undecodable
        )?;
        writeln!(
            f,
            "  cassandra: {} users, {} rejected rows",
            self.cassandra_rows, self.rejected_rows
        )?;
        if let Some(dlq) = self.dlq_count {
            writeln!(
                f,
                "  dead letters: {dlq} (not compared: they never reach the topic)"
            )?;
        }
        writeln!(f, "  missing in cassandra: {}", self.missing_count)?;
        for id in &self.missing_ids {
            writeln!(f, "    {id}")?;
        }
        writeln!(f, "  extra in cassandra:   {}", self.extra_count)?;
        for id in &self.extra_ids {
            writeln!(f, "    {id}")?;
        }
        writeln!(
            f,
            "  field checks: {} users sampled, {} differing fields",
            self.sampled, self.field_mismatch_count
        )?;
        for m in &self.field_mismatches {
            writeln!(
                f,
                "    {} {}: expected {:?}, found {:?}",
                m.id, m.field, m.expected, m.actual
            )?;
        }
        write!(
            f,
            "{}",
            if self.ok {
                "OK: no difference"
            } else {
                "DIFFERENCE FOUND"
            }
        )
    }
}

/// One record of the topic.
struct Record {
    partition: i32,
    offset: i64,
    value: Option<Vec<u8>>,
}

/// Reads every record of `topic` from the start to the high watermark seen at the start.
fn read_topic(bootstrap: &str, topic: &str, timeout: Duration) -> Result<Vec<Record>, StreamError> {
    let kafka = |e: rdkafka::error::KafkaError| StreamError::Kafka(format!("reading {topic}: {e}"));
    let consumer: BaseConsumer<TracingContext> = base_config(bootstrap)
        .set("group.id", format!("userstream-verify-{}", Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create_with_context(TracingContext)
        .map_err(kafka)?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(kafka)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(StreamError::Kafka(format!("topic {topic} does not exist")));
    }
    let mut assignment = TopicPartitionList::new();
    let mut ends: HashMap<i32, i64> = HashMap::new();
    for p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(kafka)?;
        if high > low {
            assignment
                .add_partition_offset(topic, p, Offset::Offset(low))
                .map_err(kafka)?;
            ends.insert(p, high);
        }
    }
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    consumer.assign(&assignment).map_err(kafka)?;
    let deadline = Instant::now() + timeout;
    let mut records = Vec::new();
    let mut done: HashSet<i32> = HashSet::new();
    while done.len() < ends.len() {
        if Instant::now() > deadline {
            return Err(StreamError::Kafka(format!(
                "reading {topic}: not at the end after {timeout:?}"
            )));
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let end = ends.get(&m.partition()).copied().unwrap_or(0);
                if m.offset() < end {
                    records.push(Record {
                        partition: m.partition(),
                        offset: m.offset(),
                        value: m.payload().map(<[u8]>::to_vec),
                    });
                }
                if m.offset() + 1 >= end {
                    done.insert(m.partition());
                }
            }
            Some(Err(e)) => return Err(kafka(e)),
            None => {
                // Compacted or transactional gaps: the position tells when a partition ends.
                if let Ok(position) = consumer.position() {
                    for e in position.elements() {
                        if let Offset::Offset(o) = e.offset() {
                            if ends.get(&e.partition()).is_some_and(|end| o >= *end) {
                                done.insert(e.partition());
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(records)
}

/// Compares the topic with the keyspace: counts, missing and extra ids, every field of a
/// random sample, and undecodable records against `rejected_rows`.
pub async fn verify(
    config: &StreamConfig,
    options: &VerifyOptions,
) -> Result<VerifyReport, StreamError> {
    config.validate()?;
    let (bootstrap, topic, timeout) = (
        config.bootstrap_servers.clone(),
        config.topic.clone(),
        options.kafka_timeout,
    );
    let records = tokio::task::spawn_blocking(move || read_topic(&bootstrap, &topic, timeout))
        .await
        .map_err(|e| StreamError::Kafka(format!("reader task: {e}")))??;

    let registry = RegistryClient::new(config.registry_url.clone(), config.request_timeout)
        .map_err(|e| StreamError::Registry {
            retryable: false,
            message: e.to_string(),
        })?;
    let deserializer = Deserializer::new(registry);
    // Per id, the record with the highest (partition, offset): the one Cassandra keeps.
    let mut expected: HashMap<Uuid, (User, i32, i64)> = HashMap::new();
    let (mut decoded, mut undecodable) = (0u64, 0u64);
    for r in &records {
        let Some(value) = &r.value else {
            undecodable += 1;
            continue;
        };
        match deserializer.deserialize(value).await {
            Ok(user) => {
                decoded += 1;
                let newer = expected
                    .get(&user.id)
                    .is_none_or(|(_, p, o)| (r.partition, r.offset) > (*p, *o));
                if newer {
                    expected.insert(user.id, (user, r.partition, r.offset));
                }
            }
            Err(e) if e.is_retryable() => {
                return Err(StreamError::Registry {
                    message: e.to_string(),
                    retryable: true,
                })
            }
            Err(_) => undecodable += 1,
        }
    }

    let dlq_count = match &options.dlq_topic {
        Some(dlq) => Some(
            userstream_kafka::topic_offsets(&config.bootstrap_servers, config.request_timeout)
                .await
                .map_err(|e| StreamError::Kafka(e.to_string()))?
                .iter()
                .find(|t| &t.name == dlq)
                .map_or(0, |t| t.held()),
        ),
        None => None,
    };
    let session =
        userstream_store::connect(&config.cassandra_contact_point, config.request_timeout).await?;
    let settle_until = Instant::now() + options.settle;
    let (stored_ids, rejected) = loop {
        let ids = userstream_store::user_ids(&session, &config.keyspace).await?;
        let rejected =
            userstream_store::count_rejected(&session, &config.keyspace, Some(&config.topic))
                .await?;
        let caught_up = ids.len() >= expected.len() && rejected as u64 >= undecodable;
        if caught_up || Instant::now() >= settle_until {
            break (ids, rejected);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let stored: HashSet<Uuid> = stored_ids.iter().copied().collect();
    let missing: Vec<Uuid> = expected
        .keys()
        .filter(|id| !stored.contains(id))
        .copied()
        .collect();
    let extra: Vec<Uuid> = stored
        .iter()
        .filter(|id| !expected.contains_key(id))
        .copied()
        .collect();

    let mut present: Vec<Uuid> = expected
        .keys()
        .filter(|id| stored.contains(id))
        .copied()
        .collect();
    present.sort_unstable();
    let sample: Vec<Uuid> = present
        .choose_multiple(&mut rand::thread_rng(), options.sample)
        .copied()
        .collect();
    let rows = userstream_store::users_by_id(&session, &config.keyspace, &sample).await?;
    let mut mismatches = Vec::new();
    for row in &rows {
        if let Some((user, partition, offset)) = expected.get(&row.id) {
            mismatches.extend(compare(user, &config.topic, *partition, *offset, row));
        }
    }

    let ok = missing.is_empty()
        && extra.is_empty()
        && mismatches.is_empty()
        && rows.len() == sample.len()
        && rejected as u64 == undecodable;
    Ok(VerifyReport {
        topic: config.topic.clone(),
        keyspace: config.keyspace.clone(),
        kafka_records: records.len() as u64,
        kafka_decoded: decoded,
        kafka_undecodable: undecodable,
        kafka_unique_ids: expected.len(),
        cassandra_rows: stored_ids.len(),
        rejected_rows: rejected,
        dlq_count,
        missing_count: missing.len(),
        missing_ids: missing.into_iter().take(LIST_LIMIT).collect(),
        extra_count: extra.len(),
        extra_ids: extra.into_iter().take(LIST_LIMIT).collect(),
        sampled: rows.len(),
        field_mismatch_count: mismatches.len(),
        field_mismatches: mismatches.into_iter().take(LIST_LIMIT).collect(),
        ok,
    })
}

/// Spark's `trim`: spaces only.
fn spark_trim(s: &str) -> &str {
    s.trim_matches(' ')
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(spark_trim).filter(|s| !s.is_empty())
}

fn join_present(sep: &str, parts: &[Option<&str>]) -> Option<String> {
    let present: Vec<&str> = parts.iter().flatten().copied().collect();
    let joined = present.join(sep);
    (!joined.is_empty()).then_some(joined)
}

/// The job's `display_address` rule (see `plan::DISPLAY_ADDRESS_SQL`), in Rust.
pub(crate) fn display_address(u: &User) -> Option<String> {
    let number = u.street_number.map(|n| n.to_string());
    let street = join_present(
        " ",
        &[number.as_deref(), non_empty(u.street_name.as_deref())],
    );
    let region = join_present(
        " ",
        &[
            non_empty(u.state.as_deref()),
            non_empty(u.postcode.as_deref()),
        ],
    );
    join_present(
        ", ",
        &[
            street.as_deref(),
            non_empty(u.city.as_deref()),
            region.as_deref(),
            non_empty(u.country.as_deref()),
        ],
    )
}

/// The job's `full_name` rule.
pub(crate) fn full_name(u: &User) -> Option<String> {
    join_present(
        " ",
        &[
            non_empty(u.first_name.as_deref()),
            non_empty(u.last_name.as_deref()),
        ],
    )
}

/// The job's `email` and `email_domain` rules.
pub(crate) fn email_and_domain(u: &User) -> (Option<String>, Option<String>) {
    let email = u.email.as_deref().map(|e| spark_trim(e).to_lowercase());
    let domain = match (&u.email, &email) {
        (Some(raw), Some(lower)) if raw.contains('@') => {
            lower.rsplit('@').next().map(str::to_owned)
        }
        _ => None,
    };
    (email, domain)
}

/// Whole calendar years from `dob` to `at`, in UTC.
pub(crate) fn age_at(dob: DateTime<Utc>, at: DateTime<Utc>) -> i32 {
    let before_birthday = (at.month(), at.day()) < (dob.month(), dob.day());
    at.year() - dob.year() - i32::from(before_birthday)
}

fn ts(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_millis())
}

fn cql(t: Option<CqlTimestamp>) -> Option<i64> {
    t.map(|t| t.0)
}

fn compare(
    u: &User,
    topic: &str,
    partition: i32,
    offset: i64,
    row: &StoredUser,
) -> Vec<FieldMismatch> {
    let mut out = Vec::new();
    let mut check = |field: &str, expected: String, actual: String| {
        if expected != actual {
            out.push(FieldMismatch {
                id: u.id,
                field: field.to_owned(),
                expected,
                actual,
            });
        }
    };
    macro_rules! same {
        ($field:ident) => {
            check(
                stringify!($field),
                format!("{:?}", u.$field),
                format!("{:?}", row.$field),
            )
        };
    }
    same!(title);
    same!(first_name);
    same!(last_name);
    same!(gender);
    same!(street_number);
    same!(street_name);
    same!(city);
    same!(state);
    same!(country);
    same!(postcode);
    same!(latitude);
    same!(longitude);
    same!(timezone_offset);
    same!(timezone_description);
    same!(phone);
    same!(cell);
    same!(id_name);
    same!(id_value);
    same!(picture_url);
    same!(nationality);
    check(
        "username",
        format!("{:?}", Some(&u.username)),
        format!("{:?}", row.username.as_ref()),
    );
    check(
        "dob",
        format!("{:?}", ts(u.dob)),
        format!("{:?}", cql(row.dob)),
    );
    check(
        "registered",
        format!("{:?}", ts(u.registered)),
        format!("{:?}", cql(row.registered)),
    );
    check(
        "produced_at",
        format!("{:?}", Some(u.produced_at.timestamp_millis())),
        format!("{:?}", cql(row.produced_at)),
    );
    check(
        "source_url",
        format!("{:?}", Some(&u.source_url)),
        format!("{:?}", row.source_url.as_ref()),
    );
    check(
        "source_seed",
        format!("{:?}", Some(&u.source_seed)),
        format!("{:?}", row.source_seed.as_ref()),
    );
    check(
        "source_page",
        format!("{:?}", Some(u.source_page)),
        format!("{:?}", row.source_page),
    );
    check(
        "source_index",
        format!("{:?}", Some(u.source_index)),
        format!("{:?}", row.source_index),
    );
    // The job's transformations.
    let (email, domain) = email_and_domain(u);
    check("email", format!("{email:?}"), format!("{:?}", row.email));
    check(
        "email_domain",
        format!("{domain:?}"),
        format!("{:?}", row.email_domain),
    );
    check(
        "full_name",
        format!("{:?}", full_name(u)),
        format!("{:?}", row.full_name),
    );
    check(
        "display_address",
        format!("{:?}", display_address(u)),
        format!("{:?}", row.display_address),
    );
    let processed = row
        .processed_at
        .and_then(|t| DateTime::<Utc>::from_timestamp_millis(t.0));
    let age = match (u.dob, processed) {
        (Some(dob), Some(at)) => Some(age_at(dob, at)),
        _ => None,
    };
    check(
        "age_at_ingest",
        format!("{age:?}"),
        format!("{:?}", row.age_at_ingest),
    );
    if processed.is_none() {
        check("processed_at", "a timestamp".into(), "null".into());
    }
    check(
        "kafka_topic",
        format!("{:?}", Some(topic)),
        format!("{:?}", row.kafka_topic.as_deref()),
    );
    check(
        "kafka_partition",
        format!("{:?}", Some(partition)),
        format!("{:?}", row.kafka_partition),
    );
    check(
        "kafka_offset",
        format!("{:?}", Some(offset)),
        format!("{:?}", row.kafka_offset),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn age_counts_the_birthday() {
        let dob = Utc.with_ymd_and_hms(1990, 6, 15, 23, 0, 0).single();
        let day_before = Utc.with_ymd_and_hms(2026, 6, 14, 0, 0, 0).single();
        let on_day = Utc.with_ymd_and_hms(2026, 6, 15, 0, 0, 0).single();
        let (Some(dob), Some(before), Some(on)) = (dob, day_before, on_day) else {
            panic!("dates");
        };
        assert_eq!(age_at(dob, before), 35);
        assert_eq!(age_at(dob, on), 36);
    }

    #[test]
    fn transformations_match_the_producer_rules() {
        let mut u = crate::produce::synthetic_user("t", 8);
        u.email = Some(" Ava.8@Example2.COM ".into());
        u.first_name = Some("  ".into());
        u.last_name = Some("Smith".into());
        assert_eq!(
            email_and_domain(&u),
            (
                Some("ava.8@example2.com".into()),
                Some("example2.com".into())
            )
        );
        assert_eq!(full_name(&u), Some("Smith".into()));
        u.email = Some("no-at-sign".into());
        assert_eq!(email_and_domain(&u).1, None);
        u.street_number = Some(12);
        u.street_name = Some("Main St".into());
        u.city = None;
        u.state = Some("".into());
        u.postcode = Some("99".into());
        u.country = Some("US".into());
        assert_eq!(display_address(&u), Some("12 Main St, 99, US".into()));
        u.street_number = None;
        u.street_name = None;
        u.postcode = None;
        u.country = None;
        assert_eq!(display_address(&u), None);
    }
}
