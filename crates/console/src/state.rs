//! What the sampler has gathered so far, and the snapshot the page reads.

use std::collections::{BTreeMap, VecDeque};

use crate::config::ConsoleConfig;
use crate::gather::KafkaSample;
use crate::model::{
    flow, lag, AirflowView, BehindRule, CassandraView, CountView, FlowInputs, KafkaView, Links,
    RegistryView, Section, Series, ServiceRow, Snapshot, SourceView, SparkSample, SparkView,
    TopicRole, TopicView,
};

/// Samples kept per series: 90 at the 2 s cadence is three minutes of sparkline.
const HISTORY: usize = 90;

/// Everything gathered, plus the counters over time the rates come from.
#[derive(Debug, Default)]
pub struct State {
    /// Stack services.
    pub stack: Section<Vec<ServiceRow>>,
    /// The users API.
    pub source: Section<SourceView>,
    /// Kafka topics and dead letters.
    pub kafka: Section<KafkaView>,
    /// The last good Kafka sample (offsets for lag, newest user ids for Cassandra).
    pub kafka_sample: Option<KafkaSample>,
    /// Registry subjects.
    pub registry: Section<RegistryView>,
    /// The streaming queries.
    pub spark: Section<SparkView>,
    /// Cassandra estimates and rows.
    pub cassandra: Section<CassandraView>,
    /// The last explicit count of `users`, running or done.
    pub cassandra_count: Option<CountView>,
    /// Airflow DAGs and runs.
    pub airflow: Section<AirflowView>,
    topic_series: BTreeMap<String, Series>,
    committed: Option<Series>,
    landed: Option<Series>,
    spark_history: VecDeque<SparkSample>,
}

fn series(slot: &mut Option<Series>) -> &mut Series {
    slot.get_or_insert_with(|| Series::new(HISTORY))
}

impl State {
    /// Records a Kafka gather: offsets go into the per-topic series, the view gets rates.
    pub fn record_kafka(
        &mut self,
        config: &ConsoleConfig,
        outcome: Result<KafkaSample, String>,
        now_ms: i64,
        took_ms: u64,
    ) {
        let outcome = outcome.map(|sample| {
            let mut topics: Vec<TopicView> = sample
                .topics
                .iter()
                .map(|t| {
                    let series = self
                        .topic_series
                        .entry(t.name.clone())
                        .or_insert_with(|| Series::new(HISTORY));
                    series.push(now_ms, t.end_total());
                    let role = if t.name == config.topic {
                        TopicRole::Users
                    } else if t.name == config.dlq_topic {
                        TopicRole::DeadLetter
                    } else {
                        TopicRole::Other
                    };
                    TopicView {
                        name: t.name.clone(),
                        role,
                        partitions: t.partitions.clone(),
                        end_offset: t.end_total(),
                        messages: t.held(),
                        rate_per_second: series.rate_over(4_000),
                        rate_history: series.rates(),
                    }
                })
                .collect();
            // Pipeline topics first.
            topics.sort_by_key(|t| (t.role == TopicRole::Other, t.role != TopicRole::Users));
            let dlq = sample.topics.iter().find(|t| t.name == config.dlq_topic);
            let view = KafkaView {
                topics,
                dlq_topic: config.dlq_topic.clone(),
                dlq_size: dlq.map(|t| t.held()),
                dlq_newest: sample.dead_letters.clone(),
            };
            self.kafka_sample = Some(sample);
            view
        });
        self.kafka.record(outcome, now_ms, took_ms);
    }

    /// Records a Spark gather and adds a point to the Spark chart.
    pub fn record_spark(
        &mut self,
        config: &ConsoleConfig,
        outcome: Result<SparkView, String>,
        now_ms: i64,
        took_ms: u64,
    ) {
        if let Ok(view) = &outcome {
            let users_query = view.queries.first();
            let users_topic = self
                .kafka_sample
                .as_ref()
                .and_then(|k| k.topics.iter().find(|t| t.name == config.topic));
            if let (Some(q), Some(topic)) = (users_query, users_topic) {
                if let Some(lag) = lag(topic, q) {
                    let committed = topic.end_total() - lag;
                    let processed = series(&mut self.committed);
                    processed.push(now_ms, committed);
                    let processed_per_second = processed.rate_over(4_000).unwrap_or(0.0);
                    let input_per_second = self
                        .topic_series
                        .get(&config.topic)
                        .and_then(|s| s.rate_over(4_000))
                        .unwrap_or(0.0);
                    if self.spark_history.len() == HISTORY {
                        self.spark_history.pop_front();
                    }
                    self.spark_history.push_back(SparkSample {
                        at_ms: now_ms,
                        input_per_second,
                        processed_per_second,
                        lag,
                    });
                }
            }
        }
        self.spark.record(outcome, now_ms, took_ms);
    }

    /// Records a Cassandra gather; the write counter feeds the landing rate, and its value
    /// when Cassandra recorded its on-disk estimate adds the writes since to the estimate.
    pub fn record_cassandra(
        &mut self,
        outcome: Result<CassandraView, String>,
        now_ms: i64,
        took_ms: u64,
    ) {
        let outcome = outcome.map(|mut view| {
            let estimate = &mut view.users_estimate;
            if let Some(recorded_at_ms) = estimate.recorded_at_ms {
                let then = self
                    .landed
                    .as_ref()
                    .and_then(|s| s.value_at(recorded_at_ms));
                *estimate = estimate.clone().with_writes_at_recording(then);
            }
            // Writes, not rows: a replay upserts existing rows and still lands.
            if let Some(writes) = view.users_writes {
                series(&mut self.landed).push(now_ms, writes);
            }
            view
        });
        self.cassandra.record(outcome, now_ms, took_ms);
    }

    /// Everything the page shows, at `now_ms`.
    pub fn snapshot(&self, config: &ConsoleConfig, now_ms: i64) -> Snapshot {
        let topic_rate = |name: &str| self.topic_series.get(name).and_then(|s| s.rate_over(4_000));
        // Only rates measured while Kafka answers: a stale series would show old traffic.
        let kafka_fresh = self.kafka.ok;
        let produced = kafka_fresh
            .then(
                || match (topic_rate(&config.topic), topic_rate(&config.dlq_topic)) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
                },
            )
            .flatten();
        let spark_fresh = self.spark.fresh();
        let processed = spark_fresh
            .and(self.committed.as_ref())
            .and_then(|s| s.rate_over(4_000));
        let landed = self
            .cassandra
            .fresh()
            .and(self.landed.as_ref())
            .and_then(|s| s.rate_over(10_000));
        let lags: Vec<i64> = self.spark_history.iter().map(|s| s.lag).collect();
        let current_lag = spark_fresh.and(lags.last().copied());
        let inputs = FlowInputs {
            services: self.stack.fresh().map(Vec::as_slice),
            source: self.source.data.as_ref(),
            users_query: spark_fresh.and_then(|v| v.queries.first()),
            spark_error: self.spark.error.as_deref(),
            kafka_error: (!self.kafka.ok)
                .then_some(self.kafka.error.as_deref())
                .flatten(),
            cassandra_error: (!self.cassandra.ok)
                .then_some(self.cassandra.error.as_deref())
                .flatten(),
            produced_per_second: produced,
            processed_per_second: processed,
            landed_per_second: landed,
            lag: current_lag,
            behind: BehindRule::default().is_behind(&lags),
        };
        let endpoints = config.stack.endpoints();
        Snapshot {
            generated_at_ms: now_ms,
            flow: flow(&inputs),
            stack: self.stack.clone(),
            source: self.source.clone(),
            kafka: self.kafka.clone(),
            registry: self.registry.clone(),
            spark: self.spark.clone(),
            spark_history: self.spark_history.iter().copied().collect(),
            cassandra: self.cassandra.clone(),
            cassandra_count: self.cassandra_count.clone(),
            airflow: self.airflow.clone(),
            links: Links {
                spark_master: endpoints.spark_master_ui_url,
                spark_worker: endpoints.spark_worker_ui_url,
                spark_driver: endpoints.spark_driver_ui_url,
                airflow: endpoints.airflow_url,
                registry: endpoints.registry_url.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BoundedCount, EstimateBasis, RangeEstimate, RowEstimate};

    fn view(on_disk: i64, recorded_at_ms: i64, writes: i64) -> CassandraView {
        let ranges = [RangeEstimate {
            partitions: on_disk,
            written_at_micros: Some(recorded_at_ms * 1_000),
        }];
        CassandraView {
            keyspace: "ks".into(),
            users_estimate: RowEstimate::new(&ranges, Some(writes)),
            users_writes: Some(writes),
            rejected: BoundedCount {
                rows: 0,
                at_least: false,
                per_partition_limit: 1_000,
            },
            newest_users: vec![],
            newest_rejected: vec![],
        }
    }

    #[test]
    fn the_estimate_adds_the_writes_counted_since_cassandra_recorded_it() {
        let mut state = State::default();
        // Recorded before the console's first sample: the writes since are unknown.
        state.record_cassandra(Ok(view(1_000_000, 500, 40_000)), 1_000, 5);
        let first = &state.cassandra.data.as_ref().unwrap().users_estimate;
        assert_eq!(
            (first.rows, first.basis),
            (Some(1_000_000), EstimateBasis::OnDisk)
        );
        state.record_cassandra(Ok(view(1_000_000, 500, 41_000)), 6_000, 5);
        // Recorded again at 7 s: the counter read 41,000 at 6 s, 43,500 now.
        state.record_cassandra(Ok(view(1_010_000, 7_000, 43_500)), 11_000, 5);
        let e = &state.cassandra.data.as_ref().unwrap().users_estimate;
        assert_eq!(e.writes_since_recorded, Some(2_500));
        assert_eq!(
            (e.rows, e.basis),
            (Some(1_012_500), EstimateBasis::OnDiskPlusWrites)
        );
    }
}
