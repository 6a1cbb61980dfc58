//! `verify`: what Kafka holds against what Cassandra holds, at one consistent cut.
//!
//! 1. The cut: each partition's log-start and end offsets, taken first.
//! 2. Kafka: every record inside the cut is decoded (undecodable ones must be in
//!    `rejected_rows`) and reduced to (user id, partition, offset), sorted in bounded memory.
//! 3. Cassandra: every row's (id, source partition, source offset), sorted the same way.
//! 4. The two sorted streams are walked side by side ([`crate::reconcile`]): rows written
//!    from records after the cut are neither extra nor missing, rows whose record Kafka has
//!    deleted are out of reach, and a random sample of matched users is compared field by field.
//!
//! Memory stays bounded whatever the topic's size: runs of sorted references spill to disk.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde::Serialize;
use userstream_kafka::{CutError, CutPosition, TopicCut};
use userstream_model::User;
use userstream_registry::{Deserializer, RegistryClient};
use userstream_store::{CqlTimestamp, StoredUser};
use uuid::Uuid;

use crate::reconcile::{
    reconcile, ExternalSorter, Reservoir, Sorted, SourceRef, Tally, DEFAULT_RUN_LEN, NOT_FROM_TOPIC,
};
use crate::{StreamConfig, StreamError};

/// How `verify` runs.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Users compared field by field (random sample of those whose row comes from their
    /// newest record inside the cut).
    pub sample: usize,
    /// Keep re-reading Cassandra for up to this long while it has not caught up with the cut
    /// (zero: compare once).
    pub settle: Duration,
    /// Longest time reading the topic may take.
    pub kafka_timeout: Duration,
    /// The producer's dead-letter topic, counted in the report (not part of the verdict:
    /// dead letters never reach the users topic). `None`: not counted.
    pub dlq_topic: Option<String>,
    /// Where sorted runs are spilled (a temporary directory inside it, removed at the end).
    pub spill_dir: PathBuf,
    /// References kept in memory per sorted run.
    pub run_len: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            sample: 200,
            settle: Duration::ZERO,
            kafka_timeout: Duration::from_secs(600),
            dlq_topic: Some("users.dlq".to_owned()),
            spill_dir: std::env::temp_dir(),
            run_len: DEFAULT_RUN_LEN,
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
    /// The cut compared: per partition, `low` (older records were deleted by retention) and
    /// `high` (records from there on came after the cut and are not compared).
    pub cut: TopicCut,
    /// Records read inside the cut.
    pub kafka_records: u64,
    /// Records that decode to a `User`.
    pub kafka_decoded: u64,
    /// Records that do not (expected in `rejected_rows`).
    pub kafka_undecodable: u64,
    /// Distinct user ids among the decoded records.
    pub kafka_unique_ids: u64,
    /// Records Kafka already deleted (retention): the sum of the partitions' log starts.
    pub kafka_deleted: i64,
    /// Rows in `users`.
    pub cassandra_rows: u64,
    /// Rows of this topic in `rejected_rows` whose record lies inside the cut.
    pub rejected_rows: u64,
    /// Messages held in the dead-letter topic (0 when it does not exist); `None` when not
    /// asked for.
    pub dlq_count: Option<i64>,
    /// Ids whose newest record inside the cut Cassandra does not reflect.
    pub missing_count: u64,
    /// Of those, ids whose row exists but was written from an older record.
    pub outdated_count: u64,
    /// Some missing ids.
    pub missing_ids: Vec<Uuid>,
    /// Rows no record accounts for (their source lies inside the cut, or another topic).
    pub extra_count: u64,
    /// Some of them.
    pub extra_ids: Vec<Uuid>,
    /// Rows written from records after the cut: not compared.
    pub past_cut_rows: u64,
    /// Rows whose source record Kafka has deleted: out of reach, neither extra nor missing.
    pub out_of_reach_rows: u64,
    /// Users compared field by field.
    pub sampled: usize,
    /// Differing fields found in the sample.
    pub field_mismatch_count: usize,
    /// Some of them.
    pub field_mismatches: Vec<FieldMismatch>,
    /// Sorted runs spilled to disk (Kafka side + Cassandra side; 0 = all fit in memory).
    pub spilled_runs: usize,
    /// Peak resident memory of this process (Linux `VmHWM`), bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Time taken.
    pub took_ms: u64,
    /// No missing or extra ids, no differing field, and at least as many rejected rows as
    /// undecodable records inside the cut.
    pub ok: bool,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify {} (Kafka) vs {}.users (Cassandra), cut at offsets {}",
            self.topic,
            self.keyspace,
            self.cut
                .partitions
                .iter()
                .map(|p| format!("{}:{}..{}", p.partition, p.low, p.high))
                .collect::<Vec<_>>()
                .join(" ")
        )?;
        writeln!(
            f,
            "  kafka:     {} records in the cut, {} decoded ({} distinct ids), {} undecodable; {} older records deleted by retention",
            self.kafka_records, self.kafka_decoded, self.kafka_unique_ids, self.kafka_undecodable, self.kafka_deleted
        )?;
        writeln!(
            f,
            "  cassandra: {} users, {} rejected rows; {} rows from records after the cut, {} from deleted records (out of reach)",
            self.cassandra_rows, self.rejected_rows, self.past_cut_rows, self.out_of_reach_rows
        )?;
        if let Some(dlq) = self.dlq_count {
            writeln!(
                f,
                "  dead letters: {dlq} (not compared: they never reach the topic)"
            )?;
        }
        writeln!(
            f,
            "  missing in cassandra: {} ({} with a row from an older record)",
            self.missing_count, self.outdated_count
        )?;
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
        if let Some(rss) = self.peak_rss_bytes {
            writeln!(
                f,
                "  took {:.1}s, peak memory {} MiB, {} sorted runs spilled to disk",
                self.took_ms as f64 / 1000.0,
                rss / (1024 * 1024),
                self.spilled_runs
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

/// Peak resident set size of this process, from `/proc/self/status` (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn spill_error(e: std::io::Error) -> StreamError {
    StreamError::Kafka(format!(
        "verify cannot write its sorted runs (temporary directory full or not writable? set TMPDIR): {e}"
    ))
}

/// The Kafka side: every record inside the cut, decoded.
struct KafkaSide {
    sorted: Sorted,
    records: u64,
    decoded: u64,
    undecodable: u64,
}

/// Reads the cut, decoding each record, and sorts the (id, position) references.
async fn read_kafka_side(
    config: &StreamConfig,
    options: &VerifyOptions,
    cut: &TopicCut,
    deserializer: &Deserializer,
) -> Result<KafkaSide, StreamError> {
    // The blocking reader hands records over through a bounded channel: backpressure, so
    // at most a channel's worth of payloads is in memory.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(i32, i64, Option<Vec<u8>>)>(1024);
    let (bootstrap, reader_cut, timeout) = (
        config.bootstrap_servers.clone(),
        cut.clone(),
        options.kafka_timeout,
    );
    let reader = tokio::task::spawn_blocking(move || {
        userstream_kafka::read_cut(&bootstrap, &reader_cut, timeout, |r| {
            tx.blocking_send((r.partition, r.offset, r.payload.map(<[u8]>::to_vec)))
                .map_err(|_| "verify stopped reading")
        })
    });
    let mut sorter = ExternalSorter::new(&options.spill_dir, options.run_len);
    let (mut records, mut decoded, mut undecodable) = (0u64, 0u64, 0u64);
    while let Some((partition, offset, payload)) = rx.recv().await {
        records += 1;
        let Some(payload) = payload else {
            undecodable += 1;
            continue;
        };
        match deserializer.deserialize(&payload).await {
            Ok(user) => {
                decoded += 1;
                sorter
                    .push(SourceRef::new(user.id, partition, offset))
                    .map_err(spill_error)?;
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
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(CutError::Kafka(e))) => return Err(StreamError::Kafka(e.to_string())),
        Ok(Err(CutError::Callback(e))) => return Err(StreamError::Kafka(e.to_owned())),
        Err(e) => return Err(StreamError::Kafka(format!("reader task: {e}"))),
    }
    Ok(KafkaSide {
        sorted: sorter.finish().map_err(spill_error)?,
        records,
        decoded,
        undecodable,
    })
}

/// Every row's (id, source position), sorted; rows from another topic are marked.
async fn read_cassandra_side(
    session: &scylla::client::session::Session,
    config: &StreamConfig,
    options: &VerifyOptions,
) -> Result<Sorted, StreamError> {
    let mut sorter = ExternalSorter::new(&options.spill_dir, options.run_len);
    let topic = config.topic.as_str();
    userstream_store::for_each_user_source(session, &config.keyspace, |row| {
        let entry = match (
            row.kafka_topic.as_deref(),
            row.kafka_partition,
            row.kafka_offset,
        ) {
            (Some(t), Some(p), Some(o)) if t == topic => SourceRef::new(row.id, p, o),
            _ => SourceRef::new(row.id, NOT_FROM_TOPIC, -1),
        };
        sorter.push(entry)
    })
    .await?
    .map_err(spill_error)?;
    sorter.finish().map_err(spill_error)
}

/// Rejected rows of this topic whose record lies inside the cut.
async fn rejected_in_cut(
    session: &scylla::client::session::Session,
    config: &StreamConfig,
    cut: &TopicCut,
) -> Result<u64, StreamError> {
    let rows =
        userstream_store::rejected_rows(session, &config.keyspace, Some(&config.topic)).await?;
    Ok(rows
        .iter()
        .filter(|r| cut.position(r.kafka_partition, r.kafka_offset) == CutPosition::Within)
        .count() as u64)
}

/// Compares the topic with the keyspace at one cut: counts, missing and extra ids, every
/// field of a random sample, and undecodable records against `rejected_rows`.
pub async fn verify(
    config: &StreamConfig,
    options: &VerifyOptions,
) -> Result<VerifyReport, StreamError> {
    config.validate()?;
    let started = Instant::now();
    let (bootstrap, topic, timeout) = (
        config.bootstrap_servers.clone(),
        config.topic.clone(),
        config.request_timeout.max(Duration::from_secs(10)),
    );
    // The cut comes first: everything after it is left out of the comparison.
    let cut = tokio::task::spawn_blocking(move || {
        userstream_kafka::take_cut(&bootstrap, &topic, timeout)
    })
    .await
    .map_err(|e| StreamError::Kafka(format!("offsets task: {e}")))?
    .map_err(|e| StreamError::Kafka(e.to_string()))?;

    let registry = RegistryClient::new(config.registry_url.clone(), config.request_timeout)
        .map_err(|e| StreamError::Registry {
            retryable: false,
            message: e.to_string(),
        })?;
    let deserializer = Deserializer::new(registry);
    let kafka = read_kafka_side(config, options, &cut, &deserializer).await?;

    // The dead-letter topic's size: its own offsets only (0 when it does not exist).
    let dlq_count = match options.dlq_topic.clone() {
        Some(dlq) => {
            let (bootstrap, timeout) = (config.bootstrap_servers.clone(), config.request_timeout);
            let cut = tokio::task::spawn_blocking(move || {
                userstream_kafka::take_cut(&bootstrap, &dlq, timeout)
            })
            .await
            .map_err(|e| StreamError::Kafka(format!("offsets task: {e}")))?;
            match cut {
                Ok(cut) => Some(cut.records()),
                Err(userstream_kafka::KafkaError::NoSuchTopic(_)) => Some(0),
                Err(e) => return Err(StreamError::Kafka(e.to_string())),
            }
        }
        None => None,
    };
    let session =
        userstream_store::connect(&config.cassandra_contact_point, config.request_timeout).await?;
    let settle_until = Instant::now() + options.settle;
    let mut rng = SmallRng::from_entropy();
    let (tally, sample, rejected, spilled) = loop {
        let rows = read_cassandra_side(&session, config, options).await?;
        let rejected = rejected_in_cut(&session, config, &cut).await?;
        let mut sample = Reservoir::new(options.sample);
        let tally = reconcile(
            kafka.sorted.iter().map_err(spill_error)?,
            rows.iter().map_err(spill_error)?,
            &cut,
            &mut sample,
            &mut rng,
        )
        .map_err(spill_error)?;
        let caught_up = tally.missing == 0 && rejected >= kafka.undecodable;
        if caught_up || Instant::now() >= settle_until {
            let spilled = kafka.sorted.spilled_runs() + rows.spilled_runs();
            break (tally, sample.into_items(), rejected, spilled);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };

    let (sampled, mismatches) =
        compare_sample(config, options, &session, &deserializer, &sample).await?;
    let Tally {
        kafka_unique_ids,
        cassandra_rows,
        missing,
        outdated,
        missing_ids,
        extra,
        extra_ids,
        past_cut,
        out_of_reach,
        matched: _,
    } = tally;
    let ok = missing == 0 && extra == 0 && mismatches.is_empty() && rejected >= kafka.undecodable;
    Ok(VerifyReport {
        topic: config.topic.clone(),
        keyspace: config.keyspace.clone(),
        kafka_deleted: cut.deleted(),
        cut,
        kafka_records: kafka.records,
        kafka_decoded: kafka.decoded,
        kafka_undecodable: kafka.undecodable,
        kafka_unique_ids,
        cassandra_rows,
        rejected_rows: rejected,
        dlq_count,
        missing_count: missing,
        outdated_count: outdated,
        missing_ids,
        extra_count: extra,
        extra_ids,
        past_cut_rows: past_cut,
        out_of_reach_rows: out_of_reach,
        sampled,
        field_mismatch_count: mismatches.len(),
        field_mismatches: mismatches
            .into_iter()
            .take(crate::reconcile::LIST_LIMIT)
            .collect(),
        spilled_runs: spilled,
        peak_rss_bytes: peak_rss_bytes(),
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ok,
    })
}

/// Reads the sampled records back from Kafka and their rows from Cassandra, and compares
/// every field. Returns how many users were compared and the differing fields.
async fn compare_sample(
    config: &StreamConfig,
    options: &VerifyOptions,
    session: &scylla::client::session::Session,
    deserializer: &Deserializer,
    sample: &[SourceRef],
) -> Result<(usize, Vec<FieldMismatch>), StreamError> {
    if sample.is_empty() {
        return Ok((0, Vec::new()));
    }
    let mut positions: Vec<(i32, i64)> = sample.iter().map(|r| (r.partition, r.offset)).collect();
    positions.sort_unstable();
    let (bootstrap, topic, timeout, asked) = (
        config.bootstrap_servers.clone(),
        config.topic.clone(),
        options.kafka_timeout,
        positions.clone(),
    );
    let values = tokio::task::spawn_blocking(move || {
        userstream_kafka::read_at(&bootstrap, &topic, &asked, timeout)
    })
    .await
    .map_err(|e| StreamError::Kafka(format!("reader task: {e}")))?
    .map_err(|e| StreamError::Kafka(e.to_string()))?;
    let mut users = Vec::with_capacity(values.len());
    for ((partition, offset), value) in positions.into_iter().zip(values) {
        // Deleted by retention since the cut: nothing left to compare with.
        let Some(value) = value else { continue };
        let user = deserializer
            .deserialize(&value)
            .await
            .map_err(|e| StreamError::Registry {
                retryable: e.is_retryable(),
                message: e.to_string(),
            })?;
        users.push((user, partition, offset));
    }
    let ids: Vec<Uuid> = users.iter().map(|(u, _, _)| u.id).collect();
    let rows = userstream_store::users_by_id(session, &config.keyspace, &ids).await?;
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (user, partition, offset) in &users {
        if let Some(row) = rows.iter().find(|r| r.id == user.id) {
            compared += 1;
            mismatches.extend(compare(user, &config.topic, *partition, *offset, row));
        }
    }
    Ok((compared, mismatches))
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

    /// One user as the producer's generator source serves it (seed "t", page 1).
    fn generated_user() -> User {
        let mut config = userstream_ingest::IngestConfig::default();
        config.source.seed = "t".into();
        config.source.results_per_page = 1;
        config.count = Some(1);
        userstream_ingest::generated_users(&config)
            .pop()
            .expect("the generator serves valid users")
    }

    #[test]
    fn transformations_match_the_producer_rules() {
        let mut u = generated_user();
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
