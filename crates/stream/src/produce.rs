//! A small producer of Confluent-framed Avro `User`s for the tests and the bench (the real
//! producer is `userstream-ingest`): synthetic users, a rate limit, bounded sends in flight.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode as Code;
use userstream_kafka::{base_config, TracingContext};
use userstream_model::User;
use userstream_registry::{RegistryClient, Serializer};
use uuid::Uuid;

use crate::StreamError;

/// Sends in flight at most; more waits for deliveries (backpressure, not buffering).
const MAX_IN_FLIGHT: usize = 20_000;

/// A synthetic user, deterministic in `(seed, index)` except `id` (random) and
/// `produced_at` (set when sent). Covers non-Latin names, null fields and upper-case email.
pub fn synthetic_user(seed: &str, index: u32) -> User {
    const FIRST: &[&str] = &[
        "Ava",
        "Jonas",
        "Zoé",
        "Mehmet",
        "Léa",
        "Нина",
        "آرمان",
        "Sofía",
    ];
    const LAST: &[&str] = &[
        "Smith",
        "Müller",
        "Dubois",
        "Yılmaz",
        "García",
        "Иванова",
        "کریمی",
    ];
    const CITY: &[&str] = &[
        "Billings", "Köln", "Lyon", "Ankara", "Sevilla", "Tomsk", "Tabriz",
    ];
    const NAT: &[&str] = &["US", "DE", "FR", "TR", "ES", "RU", "IR"];
    let i = index as usize;
    let pick = |list: &[&'static str], k: usize| list[(i / k.max(1) + k) % list.len()].to_owned();
    let first = pick(FIRST, 1);
    let last = pick(LAST, 3);
    let dob =
        Utc.timestamp_millis_opt(-631_152_000_000 + (i as i64 % 20_000) * 86_400_000 * 2 + 37_000);
    let registered = Utc.timestamp_millis_opt(1_100_000_000_000 + i as i64 * 1_000_003);
    let ascii_first: String = first.chars().filter(char::is_ascii_alphanumeric).collect();
    let ascii_first = if ascii_first.is_empty() {
        "user".to_owned()
    } else {
        ascii_first.to_lowercase()
    };
    User {
        id: Uuid::new_v4(),
        title: (!i.is_multiple_of(11))
            .then(|| ["Mr", "Ms", "Mrs", "Miss", "Monsieur"][i % 5].to_owned()),
        first_name: Some(first),
        last_name: (!i.is_multiple_of(13)).then_some(last),
        gender: Some(
            if i.is_multiple_of(2) {
                "female"
            } else {
                "male"
            }
            .to_owned(),
        ),
        street_number: (!i.is_multiple_of(7)).then_some((i % 9_999) as i32 + 1),
        street_name: Some(format!("{} Street", pick(CITY, 5))),
        city: Some(pick(CITY, 2)),
        state: (!i.is_multiple_of(17)).then(|| "Province".to_owned()),
        country: Some(pick(NAT, 2)),
        postcode: (!i.is_multiple_of(5)).then(|| format!("{:05}", i % 100_000)),
        display_address: None,
        latitude: Some(((i % 18_000) as f64) / 100.0 - 90.0),
        longitude: Some(((i % 36_000) as f64) / 100.0 - 180.0),
        timezone_offset: Some(["+5:30", "0:00", "-3:30", "+1:00"][i % 4].to_owned()),
        timezone_description: Some("Somewhere".to_owned()),
        email: (!i.is_multiple_of(19)).then(|| format!("{ascii_first}.{i}@Example{}.COM", i % 3)),
        username: format!("{ascii_first}{i}"),
        dob: dob.single(),
        registered: registered.single(),
        phone: Some(format!("(555) {:03}-{:04}", i % 1000, i % 10_000)),
        cell: Some(format!("0{:09}", i)),
        id_name: (i.is_multiple_of(3)).then(|| "SSN".to_owned()),
        id_value: (i.is_multiple_of(6)).then(|| format!("{i:09}")),
        picture_url: Some(format!(
            "https://randomuser.me/api/portraits/women/{}.jpg",
            i % 100
        )),
        nationality: Some(pick(NAT, 2)),
        produced_at: Utc::now(),
        source_url: format!(
            "https://randomuser.me/api/?seed={seed}&page={}",
            i / 5000 + 1
        ),
        source_seed: seed.to_owned(),
        source_page: (i / 5000) as i32 + 1,
        source_index: (i % 5000) as i32,
    }
    .with_display_address()
}

trait WithDisplayAddress {
    fn with_display_address(self) -> Self;
}

impl WithDisplayAddress for User {
    /// The producer's rule (see `userstream-model`), so the job's recomputation must match.
    fn with_display_address(mut self) -> Self {
        self.display_address = userstream_model::derive::display_address(&self);
        self
    }
}

/// Creates `topic` with `partitions` partitions (replication 1); an existing topic is fine.
pub async fn create_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<(), StreamError> {
    let admin: AdminClient<TracingContext> = base_config(bootstrap)
        .create_with_context(TracingContext)
        .map_err(|e| StreamError::Kafka(e.to_string()))?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics(
            [&new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|e| StreamError::Kafka(e.to_string()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, Code::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(StreamError::Kafka(format!("creating topic {name}: {code}")))
            }
        }
    }
    Ok(())
}

/// Deletes `topic`, best effort (tests clean up after themselves).
pub async fn delete_topic(bootstrap: &str, topic: &str) {
    let Ok(admin) = base_config(bootstrap)
        .create_with_context::<_, AdminClient<TracingContext>>(TracingContext)
    else {
        return;
    };
    let _ = admin.delete_topics(&[topic], &AdminOptions::new()).await;
}

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// What [`FramedProducer::send_users`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct SendStats {
    /// Records delivered.
    pub delivered: u64,
    /// Wall time from the first send to the last delivery.
    pub elapsed: Duration,
    /// When the first record was sent.
    pub started_at: DateTime<Utc>,
}

/// Produces framed `User`s to one topic.
pub struct FramedProducer {
    producer: FutureProducer<TracingContext>,
    serializer: Serializer,
    topic: String,
}

impl FramedProducer {
    /// Registers the embedded schema under `subject` and opens a producer to `topic`.
    pub async fn new(
        bootstrap: &str,
        registry: &RegistryClient,
        subject: &str,
        topic: &str,
    ) -> Result<Self, StreamError> {
        let serializer =
            Serializer::register(registry, subject)
                .await
                .map_err(|e| StreamError::Registry {
                    retryable: e.is_retryable(),
                    message: e.to_string(),
                })?;
        let producer = base_config(bootstrap)
            .set("linger.ms", "5")
            .set("compression.type", "lz4")
            .set("queue.buffering.max.messages", "200000")
            .set("enable.idempotence", "true")
            .create_with_context(TracingContext)
            .map_err(|e| StreamError::Kafka(e.to_string()))?;
        Ok(Self {
            producer,
            serializer,
            topic: topic.to_owned(),
        })
    }

    /// The schema id written in every frame.
    pub fn schema_id(&self) -> u32 {
        self.serializer.schema_id().0
    }

    /// Sends raw bytes (poison records for tests) and waits for the delivery.
    pub async fn send_raw(&self, key: &[u8], value: &[u8]) -> Result<Delivered, StreamError> {
        let record = FutureRecord::to(&self.topic).key(key).payload(value);
        match self.producer.send(record, Duration::from_secs(30)).await {
            Ok(d) => Ok(Delivered {
                partition: d.partition,
                offset: d.offset,
            }),
            Err((e, _)) => Err(StreamError::Kafka(e.to_string())),
        }
    }

    /// Sends `users` keyed by id, stamping `produced_at` as each is sent, at most `rate` per
    /// second when given, with a bounded number in flight; returns after the last delivery.
    pub async fn send_users(
        &self,
        users: impl IntoIterator<Item = User>,
        rate: Option<f64>,
    ) -> Result<SendStats, StreamError> {
        let start = Instant::now();
        let started_at = Utc::now();
        let mut in_flight = FuturesUnordered::new();
        let mut delivered = 0u64;
        for (sent, mut user) in users.into_iter().enumerate() {
            if let Some(rate) = rate.filter(|r| *r > 0.0) {
                let due = start + Duration::from_secs_f64(sent as f64 / rate);
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
            }
            while in_flight.len() >= MAX_IN_FLIGHT {
                if let Some(result) = in_flight.next().await {
                    delivery(result)?;
                    delivered += 1;
                }
            }
            user.produced_at = Utc::now();
            let payload = self
                .serializer
                .serialize(&user)
                .map_err(|e| StreamError::Kafka(format!("encoding user {}: {e}", user.id)))?;
            let key = user.id.to_string();
            let mut record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
            loop {
                match self.producer.send_result(record) {
                    Ok(future) => {
                        in_flight.push(future);
                        break;
                    }
                    Err((e, back))
                        if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) =>
                    {
                        record = back;
                        // Queue full: wait for a delivery instead of buffering more.
                        match in_flight.next().await {
                            Some(result) => {
                                delivery(result)?;
                                delivered += 1;
                            }
                            None => tokio::time::sleep(Duration::from_millis(5)).await,
                        }
                    }
                    Err((e, _)) => return Err(StreamError::Kafka(e.to_string())),
                }
            }
            // Drain finished deliveries without waiting.
            while let Some(Some(result)) = futures::FutureExt::now_or_never(in_flight.next()) {
                delivery(result)?;
                delivered += 1;
            }
        }
        while let Some(result) = in_flight.next().await {
            delivery(result)?;
            delivered += 1;
        }
        Ok(SendStats {
            delivered,
            elapsed: start.elapsed(),
            started_at,
        })
    }
}

fn delivery(
    result: Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
) -> Result<(), StreamError> {
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(StreamError::Kafka(format!("delivery failed: {e}"))),
        Err(_) => Err(StreamError::Kafka("producer dropped a delivery".into())),
    }
}
