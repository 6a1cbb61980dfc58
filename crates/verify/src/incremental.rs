//! `verify --incremental`: only what came since the last verified cut, so a run costs what
//! was produced since, not what the table holds.
//!
//! 1. The last verified cut is loaded from its file ([`crate::cut_file`]); none, or one that
//!    cannot be used: the full comparison runs instead, and stores its cut when clean.
//! 2. A new cut is taken; the records between the two are read and decoded, reduced to the
//!    newest record per user id ([`crate::range::plan`], [`crate::reconcile::NewestPerId`]).
//! 3. Those ids' rows are read by primary key and judged by the full comparison's rules
//!    ([`crate::reconcile::Tally::count_record`]); undecodable records are counted against
//!    the rejected rows of the same range, read by key too.
//! 4. A random sample of older records (before the previous cut, still in Kafka) is read
//!    again: their user's row must come from them or from a newer record.
//! 5. A sample of matched users is compared field by field, as the full comparison does.
//! 6. The new cut is stored only when all is well: a range with a difference is read again
//!    by the next run.
//!
//! Not checked here: rows no record accounts for (extra rows), which only reading the whole
//! table finds; `verify` without `--incremental` does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use scylla::client::session::Session;
use userstream_kafka::TopicCut;
use userstream_registry::Deserializer;
use uuid::Uuid;

use crate::cut_file::{self, Loaded, StoredCut};
use crate::range::{self, Fallback, Plan};
use crate::reconcile::{
    caught_up, reflects, rejected_within, NewestPerId, Reservoir, Sorted, SourceRef, Tally,
    LIST_LIMIT,
};
use crate::report::{peak_rss_bytes, VerifyMode, VerifyReport};
use crate::verify::{
    compare_sample, connect, dlq_count, elapsed_ms, read_kafka_side, read_values_at, spill_error,
    take_cut, verify, Settle,
};
use crate::{VerifyConfig, VerifyError, VerifyOptions};

/// Ids whose rows are read per round of lookups: bounds the memory of a large range.
const LOOKUP_BATCH: usize = 4096;

/// What `verify --incremental` adds to [`VerifyOptions`].
#[derive(Debug, Clone)]
pub struct IncrementalOptions {
    /// The file holding the last verified cut ([`crate::cut_file()`] names it under the state
    /// directory).
    pub cut_file: PathBuf,
    /// Older records (before the previous cut, still in Kafka) drawn at random and checked
    /// again.
    pub recheck: usize,
}

/// Compares what came since the last verified cut (see the module's documentation); the
/// full comparison instead when there is no usable cut. Stores the new cut when the verdict
/// is clean.
pub async fn verify_incremental(
    config: &VerifyConfig,
    options: &VerifyOptions,
    incremental: &IncrementalOptions,
) -> Result<VerifyReport, VerifyError> {
    config.validate()?;
    let started = Instant::now();
    let previous = match cut_file::load(&incremental.cut_file, &config.topic, &config.keyspace) {
        Loaded::Found(stored) => stored.cut,
        Loaded::Absent => {
            return full_instead(config, options, incremental, Fallback::NoStoredCut).await
        }
        Loaded::Unusable(why) => {
            return full_instead(config, options, incremental, Fallback::Unusable(why)).await
        }
    };
    let cut = take_cut(config).await?;
    match range::plan(&previous, &cut) {
        Ok(plan) => run(config, options, incremental, previous, cut, plan, started).await,
        Err(fallback) => full_instead(config, options, incremental, fallback).await,
    }
}

/// The full comparison, reported as a fallback; its cut is stored when clean.
async fn full_instead(
    config: &VerifyConfig,
    options: &VerifyOptions,
    incremental: &IncrementalOptions,
    why: Fallback,
) -> Result<VerifyReport, VerifyError> {
    let mut report = verify(config, options).await?;
    report.fallback_reason = Some(why.to_string());
    report.cut_file = Some(incremental.cut_file.display().to_string());
    if report.ok {
        save(config, incremental, &report.cut)?;
        report.cut_saved = true;
    }
    Ok(report)
}

fn save(
    config: &VerifyConfig,
    incremental: &IncrementalOptions,
    cut: &TopicCut,
) -> Result<(), VerifyError> {
    let stored = StoredCut::new(&config.keyspace, cut.clone());
    cut_file::save(&incremental.cut_file, &stored).map_err(|source| VerifyError::SaveCut {
        path: incremental.cut_file.clone(),
        source,
    })
}

/// Older records read again, and those whose user's row does not reflect them.
#[derive(Debug, Default)]
struct Recheck {
    rechecked: u64,
    failed: u64,
    failed_ids: Vec<Uuid>,
}

async fn run(
    config: &VerifyConfig,
    options: &VerifyOptions,
    incremental: &IncrementalOptions,
    previous: TopicCut,
    cut: TopicCut,
    plan: Plan,
    started: Instant,
) -> Result<VerifyReport, VerifyError> {
    let deserializer = Deserializer::new(config.registry_client()?);
    let kafka = read_kafka_side(config, options, &plan.range, &deserializer).await?;
    let dlq_count = dlq_count(config, options).await?;
    let session = connect(config).await?;
    let settle = Settle::new(options.settle);
    let mut rng = SmallRng::from_entropy();
    let (tally, sample, rejected) = loop {
        let (tally, sample) =
            judge_newest(&session, config, options, &kafka.sorted, &mut rng).await?;
        let rejected = rejected_in_range(&session, config, &plan.range).await?;
        if !settle
            .again(caught_up(tally.missing, rejected, kafka.undecodable))
            .await
        {
            break (tally, sample, rejected);
        }
    };
    let recheck = recheck_older(
        config,
        options,
        &session,
        &deserializer,
        &plan.older,
        incremental.recheck,
        &mut rng,
    )
    .await?;
    let (sampled, mismatches) =
        compare_sample(config, options, &session, &deserializer, &sample).await?;
    let ok = caught_up(tally.missing, rejected, kafka.undecodable)
        && recheck.failed == 0
        && mismatches.is_empty();
    if ok {
        save(config, incremental, &cut)?;
    }
    Ok(VerifyReport {
        topic: config.topic.clone(),
        keyspace: config.keyspace.clone(),
        mode: VerifyMode::Incremental,
        previous_cut: Some(previous),
        fallback_reason: None,
        cut_file: Some(incremental.cut_file.display().to_string()),
        cut_saved: ok,
        kafka_deleted: cut.deleted(),
        cut,
        kafka_records: kafka.records,
        kafka_decoded: kafka.decoded,
        kafka_undecodable: kafka.undecodable,
        kafka_unique_ids: tally.kafka_unique_ids,
        kafka_skipped: plan.skipped,
        cassandra_rows: None,
        rejected_rows: rejected,
        dlq_count,
        missing_count: tally.missing,
        outdated_count: tally.outdated,
        missing_ids: tally.missing_ids,
        extra_count: None,
        extra_ids: Vec::new(),
        past_cut_rows: tally.past_cut,
        out_of_reach_rows: None,
        rechecked: recheck.rechecked,
        recheck_failed: recheck.failed,
        recheck_failed_ids: recheck.failed_ids,
        sampled,
        field_mismatch_count: mismatches.len(),
        field_mismatches: mismatches.into_iter().take(LIST_LIMIT).collect(),
        spilled_runs: kafka.sorted.spilled_runs(),
        peak_rss_bytes: peak_rss_bytes(),
        took_ms: elapsed_ms(started),
        ok,
    })
}

/// The newest record of each id read, against that id's row (read by key, a batch at a
/// time): the tally and a sample of matched records.
async fn judge_newest(
    session: &Session,
    config: &VerifyConfig,
    options: &VerifyOptions,
    sorted: &Sorted,
    rng: &mut SmallRng,
) -> Result<(Tally, Vec<SourceRef>), VerifyError> {
    let mut tally = Tally::default();
    let mut sample = Reservoir::new(options.sample);
    let mut newest = NewestPerId::new(sorted.iter().map_err(spill_error)?);
    loop {
        let batch: Vec<SourceRef> = newest
            .by_ref()
            .take(LOOKUP_BATCH)
            .collect::<Result<_, _>>()
            .map_err(spill_error)?;
        if batch.is_empty() {
            break;
        }
        let rows = row_sources(session, config, options, batch.iter().map(|r| r.id)).await?;
        for record in batch {
            let row = rows.get(&record.id).copied();
            if row.is_some() {
                tally.cassandra_rows += 1;
            }
            tally.count_record(record, row, &mut sample, rng);
        }
    }
    Ok((tally, sample.into_items()))
}

/// The source of each existing row of `ids`, read by primary key.
async fn row_sources(
    session: &Session,
    config: &VerifyConfig,
    options: &VerifyOptions,
    ids: impl Iterator<Item = u128>,
) -> Result<HashMap<u128, SourceRef>, VerifyError> {
    let mut ids: Vec<Uuid> = ids.map(Uuid::from_u128).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = userstream_store::user_sources_by_id(
        session,
        &config.keyspace,
        &ids,
        options.lookups_in_flight,
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| (row.id.as_u128(), SourceRef::of_row(row, &config.topic)))
        .collect())
}

/// Rejected rows whose record lies in `range`: one key range per partition.
async fn rejected_in_range(
    session: &Session,
    config: &VerifyConfig,
    range: &TopicCut,
) -> Result<u64, VerifyError> {
    let mut rows = Vec::new();
    for p in range.partitions.iter().filter(|p| p.high > p.low) {
        rows.extend(
            userstream_store::rejected_rows_between(
                session,
                &config.keyspace,
                &config.topic,
                p.partition,
                p.low..p.high,
            )
            .await?,
        );
    }
    Ok(rejected_within(&rows, range))
}

/// Reads `n` random records of `older` again and checks each user's row comes from that
/// record or a newer one. Records deleted since, tombstones and undecodable records are
/// skipped (the latter were counted against `rejected_rows` when their range was verified).
async fn recheck_older(
    config: &VerifyConfig,
    options: &VerifyOptions,
    session: &Session,
    deserializer: &Deserializer,
    older: &TopicCut,
    n: usize,
    rng: &mut impl Rng,
) -> Result<Recheck, VerifyError> {
    let positions = range::sample_positions(older, n, rng);
    if positions.is_empty() {
        return Ok(Recheck::default());
    }
    let values = read_values_at(config, options, &positions).await?;
    let mut records = Vec::with_capacity(values.len());
    for ((partition, offset), value) in positions.into_iter().zip(values) {
        let Some(value) = value else { continue };
        match deserializer.deserialize(&value).await {
            Ok(user) => records.push(SourceRef::new(user.id, partition, offset)),
            Err(e) if e.is_retryable() => return Err(VerifyError::Decode(e)),
            Err(_) => {}
        }
    }
    let rows = row_sources(session, config, options, records.iter().map(|r| r.id)).await?;
    let mut recheck = Recheck::default();
    for record in records {
        recheck.rechecked += 1;
        if !reflects(record, rows.get(&record.id).copied()) {
            recheck.failed += 1;
            if recheck.failed_ids.len() < LIST_LIMIT {
                recheck.failed_ids.push(Uuid::from_u128(record.id));
            }
        }
    }
    Ok(recheck)
}
