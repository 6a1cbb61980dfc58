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
//! Time does not: every record and every row is read. [`crate::incremental`] reads only what
//! came since the last verified cut, with the same rules and the helpers shared from here.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use scylla::client::session::Session;
use userstream_kafka::{CutError, TopicCut};
use userstream_model::record::{Cell, JobValue, Stored, COLUMNS};
use userstream_model::User;
use userstream_registry::Deserializer;
use userstream_store::StoredUser;
use uuid::Uuid;

use crate::reconcile::{
    caught_up, reconcile, rejected_within, ExternalSorter, Reservoir, Sorted, SourceRef, Tally,
    DEFAULT_RUN_LEN, LIST_LIMIT,
};
use crate::report::{peak_rss_bytes, FieldMismatch, VerifyMode, VerifyReport};
use crate::{VerifyConfig, VerifyError};

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
    /// Cassandra reads by key in flight at once (the incremental run reads its ids' rows
    /// this way).
    pub lookups_in_flight: usize,
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
            lookups_in_flight: 32,
        }
    }
}

pub(crate) fn spill_error(e: std::io::Error) -> VerifyError {
    VerifyError::Spill(e)
}

/// The Kafka side: every record inside a cut, decoded.
pub(crate) struct KafkaSide {
    /// (id, position) of each decoded record, sorted.
    pub(crate) sorted: Sorted,
    /// Records read.
    pub(crate) records: u64,
    /// Of those, decoded.
    pub(crate) decoded: u64,
    /// Of those, not decodable (tombstones included).
    pub(crate) undecodable: u64,
}

/// Reads the cut, decoding each record, and sorts the (id, position) references. `cut` may
/// be any range of offsets: the whole topic, or what came since the last verified cut.
pub(crate) async fn read_kafka_side(
    config: &VerifyConfig,
    options: &VerifyOptions,
    cut: &TopicCut,
    deserializer: &Deserializer,
) -> Result<KafkaSide, VerifyError> {
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
            Err(e) if e.is_retryable() => return Err(VerifyError::Decode(e)),
            Err(_) => undecodable += 1,
        }
    }
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(CutError::Kafka(e))) => return Err(e.into()),
        Ok(Err(CutError::Callback(e))) => {
            return Err(userstream_kafka::KafkaError::Read(e.to_owned()).into())
        }
        Err(source) => {
            return Err(VerifyError::Task {
                what: "Kafka reader",
                source,
            })
        }
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
    session: &Session,
    config: &VerifyConfig,
    options: &VerifyOptions,
) -> Result<Sorted, VerifyError> {
    let mut sorter = ExternalSorter::new(&options.spill_dir, options.run_len);
    let topic = config.topic.as_str();
    userstream_store::for_each_user_source(session, &config.keyspace, |row| {
        sorter.push(SourceRef::of_row(&row, topic))
    })
    .await?
    .map_err(spill_error)?;
    sorter.finish().map_err(spill_error)
}

/// Rejected rows of this topic whose record lies inside the cut (the whole table is read:
/// the full comparison's way).
async fn rejected_in_cut(
    session: &Session,
    config: &VerifyConfig,
    cut: &TopicCut,
) -> Result<u64, VerifyError> {
    let rows =
        userstream_store::rejected_rows(session, &config.keyspace, Some(&config.topic)).await?;
    Ok(rejected_within(&rows, cut))
}

/// Takes the cut of the configured topic now.
pub(crate) async fn take_cut(config: &VerifyConfig) -> Result<TopicCut, VerifyError> {
    let (bootstrap, topic, timeout) = (
        config.bootstrap_servers.clone(),
        config.topic.clone(),
        config.request_timeout.max(Duration::from_secs(10)),
    );
    tokio::task::spawn_blocking(move || userstream_kafka::take_cut(&bootstrap, &topic, timeout))
        .await
        .map_err(|source| VerifyError::Task {
            what: "Kafka offsets",
            source,
        })?
        .map_err(VerifyError::from)
}

/// The dead-letter topic's size: its own offsets only (0 when it does not exist); `None`
/// when not asked for.
pub(crate) async fn dlq_count(
    config: &VerifyConfig,
    options: &VerifyOptions,
) -> Result<Option<i64>, VerifyError> {
    let Some(dlq) = options.dlq_topic.clone() else {
        return Ok(None);
    };
    let (bootstrap, timeout) = (config.bootstrap_servers.clone(), config.request_timeout);
    let cut =
        tokio::task::spawn_blocking(move || userstream_kafka::take_cut(&bootstrap, &dlq, timeout))
            .await
            .map_err(|source| VerifyError::Task {
                what: "Kafka offsets",
                source,
            })?;
    match cut {
        Ok(cut) => Ok(Some(cut.records())),
        Err(userstream_kafka::KafkaError::NoSuchTopic(_)) => Ok(Some(0)),
        Err(e) => Err(e.into()),
    }
}

/// A Cassandra session as the configured role.
pub(crate) async fn connect(config: &VerifyConfig) -> Result<Session, VerifyError> {
    Ok(userstream_store::connect(
        &config.cassandra_contact_point,
        config.cassandra_login.as_ref(),
        config.request_timeout,
        &config.stack_run_dir,
    )
    .await?)
}

/// `--settle`: how long a run keeps re-reading Cassandra while it has not caught up.
pub(crate) struct Settle {
    until: Instant,
}

impl Settle {
    /// Re-reading allowed for `settle` from now.
    pub(crate) fn new(settle: Duration) -> Self {
        Self {
            until: Instant::now() + settle,
        }
    }

    /// Whether to read Cassandra again: it has not `caught_up` and time is left. Waits a
    /// little first, so the job can write.
    pub(crate) async fn again(&self, caught_up: bool) -> bool {
        if caught_up || Instant::now() >= self.until {
            return false;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        true
    }
}

/// Milliseconds since `started`.
pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Compares the topic with the keyspace at one cut: counts, missing and extra ids, every
/// field of a random sample, and undecodable records against `rejected_rows`. Reads every
/// record and every row: `verify_incremental` reads only what is new.
pub async fn verify(
    config: &VerifyConfig,
    options: &VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    config.validate()?;
    let started = Instant::now();
    // The cut comes first: everything after it is left out of the comparison.
    let cut = take_cut(config).await?;
    let deserializer = Deserializer::new(config.registry_client()?);
    let kafka = read_kafka_side(config, options, &cut, &deserializer).await?;
    let dlq_count = dlq_count(config, options).await?;
    let session = connect(config).await?;
    let settle = Settle::new(options.settle);
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
        if !settle
            .again(caught_up(tally.missing, rejected, kafka.undecodable))
            .await
        {
            let spilled = kafka.sorted.spilled_runs() + rows.spilled_runs();
            break (tally, sample.into_items(), rejected, spilled);
        }
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
    let ok = caught_up(missing, rejected, kafka.undecodable) && extra == 0 && mismatches.is_empty();
    Ok(VerifyReport {
        topic: config.topic.clone(),
        keyspace: config.keyspace.clone(),
        mode: VerifyMode::Full,
        previous_cut: None,
        fallback_reason: None,
        cut_file: None,
        cut_saved: false,
        kafka_deleted: cut.deleted(),
        cut,
        kafka_records: kafka.records,
        kafka_decoded: kafka.decoded,
        kafka_undecodable: kafka.undecodable,
        kafka_unique_ids,
        kafka_skipped: 0,
        cassandra_rows: Some(cassandra_rows),
        rejected_rows: rejected,
        dlq_count,
        missing_count: missing,
        outdated_count: outdated,
        missing_ids,
        extra_count: Some(extra),
        extra_ids,
        past_cut_rows: past_cut,
        out_of_reach_rows: Some(out_of_reach),
        rechecked: 0,
        recheck_failed: 0,
        recheck_failed_ids: Vec::new(),
        sampled,
        field_mismatch_count: mismatches.len(),
        field_mismatches: mismatches.into_iter().take(LIST_LIMIT).collect(),
        spilled_runs: spilled,
        peak_rss_bytes: peak_rss_bytes(),
        took_ms: elapsed_ms(started),
        ok,
    })
}

/// The values at `positions` of the topic (in that order); `None` where a record was
/// deleted since, or is a tombstone.
pub(crate) async fn read_values_at(
    config: &VerifyConfig,
    options: &VerifyOptions,
    positions: &[(i32, i64)],
) -> Result<Vec<Option<Vec<u8>>>, VerifyError> {
    let (bootstrap, topic, timeout, asked) = (
        config.bootstrap_servers.clone(),
        config.topic.clone(),
        options.kafka_timeout,
        positions.to_vec(),
    );
    tokio::task::spawn_blocking(move || {
        userstream_kafka::read_at(&bootstrap, &topic, &asked, timeout)
    })
    .await
    .map_err(|source| VerifyError::Task {
        what: "Kafka reader",
        source,
    })?
    .map_err(VerifyError::from)
}

/// Reads the sampled records back from Kafka and their rows from Cassandra, and compares
/// every field. Returns how many users were compared and the differing fields.
pub(crate) async fn compare_sample(
    config: &VerifyConfig,
    options: &VerifyOptions,
    session: &Session,
    deserializer: &Deserializer,
    sample: &[SourceRef],
) -> Result<(usize, Vec<FieldMismatch>), VerifyError> {
    if sample.is_empty() {
        return Ok((0, Vec::new()));
    }
    let mut positions: Vec<(i32, i64)> = sample.iter().map(|r| (r.partition, r.offset)).collect();
    positions.sort_unstable();
    let values = read_values_at(config, options, &positions).await?;
    let mut users = Vec::with_capacity(values.len());
    for ((partition, offset), value) in positions.into_iter().zip(values) {
        // Deleted by retention since the cut: nothing left to compare with.
        let Some(value) = value else { continue };
        let user = deserializer
            .deserialize(&value)
            .await
            .map_err(VerifyError::Decode)?;
        let schema_id = userstream_registry::decode_framed(&value)
            .ok()
            .map(|(id, _)| id);
        users.push((
            user,
            Source {
                topic: &config.topic,
                partition,
                offset,
                schema_id,
            },
        ));
    }
    let ids: Vec<Uuid> = users.iter().map(|(u, _)| u.id).collect();
    let rows = userstream_store::users_by_id(session, &config.keyspace, &ids).await?;
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (user, source) in &users {
        if let Some(row) = rows.iter().find(|r| r.id == user.id) {
            compared += 1;
            mismatches.extend(compare(user, source, row));
        }
    }
    Ok((compared, mismatches))
}

/// Where a sampled record was read: what the job's own columns must say.
struct Source<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    /// The registry id in the record's frame.
    schema_id: Option<u32>,
}

/// What a column must hold.
enum Expected {
    /// Exactly this.
    Cell(Cell),
    /// Some value: times the job reads off its batch or Kafka, which the record does not
    /// carry.
    Present,
}

/// The oracle: every declared column of `row` against what the record and the job's rules
/// say it should hold ([`userstream_model::record::COLUMNS`], rules from
/// [`userstream_model::derive`], the same the job's SQL is written from).
fn compare(u: &User, source: &Source<'_>, row: &StoredUser) -> Vec<FieldMismatch> {
    let record = u.record_cells();
    let processed_at = row
        .processed_at
        .and_then(|t| DateTime::<Utc>::from_timestamp_millis(t.0));
    let mut out = Vec::new();
    for (index, (column, actual)) in COLUMNS.iter().zip(row.cells()).enumerate() {
        let expected = match column.stored {
            // The record's columns come first in COLUMNS, in the order of `record_cells`.
            Stored::Key | Stored::Copied => {
                Expected::Cell(record.get(index).cloned().unwrap_or(Cell::Null))
            }
            Stored::Rule(rule) => Expected::Cell(rule.eval(u, processed_at)),
            Stored::Job(value) => match value {
                JobValue::KafkaTopic => Expected::Cell(Cell::Text(source.topic.to_owned())),
                JobValue::KafkaPartition => Expected::Cell(Cell::Int(source.partition)),
                JobValue::KafkaOffset => Expected::Cell(Cell::Long(source.offset)),
                JobValue::SchemaId => Expected::Cell(
                    source
                        .schema_id
                        .map_or(Cell::Null, |id| Cell::Long(i64::from(id))),
                ),
                JobValue::ProcessedAt | JobValue::KafkaTimestamp => Expected::Present,
            },
        };
        let differs = match &expected {
            Expected::Cell(cell) => *cell != actual,
            Expected::Present => actual == Cell::Null,
        };
        if differs {
            out.push(FieldMismatch {
                id: u.id,
                field: column.name.to_owned(),
                expected: match expected {
                    Expected::Cell(cell) => cell.to_string(),
                    Expected::Present => "a value".to_owned(),
                },
                actual: actual.to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use userstream_store::CqlTimestamp;

    fn user() -> User {
        serde_json::from_value(serde_json::json!({
            "id": "8a7c6b5e-0000-4000-8000-000000000001",
            "title": "Mr", "first_name": " Ava ", "last_name": null, "gender": "female",
            "street_number": 12, "street_name": "Main St", "city": null, "state": "",
            "country": "US", "postcode": "99", "display_address": "ignored by the job",
            "latitude": 1.5, "longitude": -2.25, "timezone_offset": "+5:30",
            "timezone_description": null, "email": " Ava@Example.COM", "username": "ava",
            "dob": "1990-06-15T23:00:00Z", "registered": null, "phone": null, "cell": null,
            "id_name": null, "id_value": null, "picture_url": null, "nationality": "US",
            "produced_at": "2024-01-01T00:00:00.123Z", "source_url": "http://x",
            "source_seed": "s", "source_page": 1, "source_index": 2
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The row the job writes for `u`, read at topic `t`, 3/42, schema 7, on 2026-06-15.
    /// Columns that are null for `u` are left to `Default`.
    fn row_for(u: &User) -> StoredUser {
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| CqlTimestamp(t.timestamp_millis()));
        StoredUser {
            id: u.id,
            title: u.title.clone(),
            first_name: u.first_name.clone(),
            gender: u.gender.clone(),
            street_number: u.street_number,
            street_name: u.street_name.clone(),
            state: u.state.clone(),
            country: u.country.clone(),
            postcode: u.postcode.clone(),
            display_address: Some("12 Main St, 99, US".into()),
            latitude: u.latitude,
            longitude: u.longitude,
            timezone_offset: u.timezone_offset.clone(),
            email: Some("ava@example.com".into()),
            username: Some(u.username.clone()),
            dob: ms(u.dob),
            nationality: u.nationality.clone(),
            produced_at: ms(Some(u.produced_at)),
            source_url: Some(u.source_url.clone()),
            source_seed: Some(u.source_seed.clone()),
            source_page: Some(u.source_page),
            source_index: Some(u.source_index),
            full_name: Some("Ava".into()),
            email_domain: Some("example.com".into()),
            age_at_ingest: Some(36),
            processed_at: Some(CqlTimestamp(1_781_481_600_000)),
            kafka_topic: Some("t".into()),
            kafka_partition: Some(3),
            kafka_offset: Some(42),
            kafka_timestamp: Some(CqlTimestamp(1_781_481_500_000)),
            schema_id: Some(7),
            ..StoredUser::default()
        }
    }

    const SOURCE: Source<'static> = Source {
        topic: "t",
        partition: 3,
        offset: 42,
        schema_id: Some(7),
    };

    #[test]
    fn a_faithful_row_has_no_mismatch() {
        let u = user();
        assert_eq!(compare(&u, &SOURCE, &row_for(&u)), []);
    }

    #[test]
    fn every_kind_of_column_is_checked() {
        let u = user();
        let mut row = row_for(&u);
        row.city = Some("Lyon".into());
        row.full_name = Some(" Ava".into());
        row.age_at_ingest = Some(35);
        row.kafka_offset = Some(41);
        row.schema_id = Some(8);
        row.kafka_timestamp = None;
        row.dob = None;
        let found: Vec<(String, String, String)> = compare(&u, &SOURCE, &row)
            .into_iter()
            .map(|m| (m.field, m.expected, m.actual))
            .collect();
        let expect = |f: &str, e: &str, a: &str| (f.to_owned(), e.to_owned(), a.to_owned());
        assert_eq!(
            found,
            [
                expect("city", "null", "\"Lyon\""),
                expect("dob", "1990-06-15T23:00:00.000Z", "null"),
                expect("full_name", "\"Ava\"", "\" Ava\""),
                expect("age_at_ingest", "36", "35"),
                expect("kafka_offset", "42", "41"),
                expect("kafka_timestamp", "a value", "null"),
                expect("schema_id", "7", "8"),
            ]
        );
    }
}
