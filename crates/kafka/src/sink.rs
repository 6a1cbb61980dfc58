//! The producer sink: sends records with a bounded number unacknowledged, backs off on a full
//! librdkafka queue instead of blocking or buffering, and accounts every delivery.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use userstream_endpoints::KafkaAccess;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use crate::{base_config, KafkaError, LatencyHistogram, TracingContext};

/// What a [`Sink`] reports while it works, per record tag `T` (say "user" or "dead letter").
/// Called on the sending task; implementations update counters, nothing slow.
pub trait SinkObserver<T>: Send + Sync {
    /// A send call returned after `took` (librdkafka took the record, or refused it).
    fn send_call(&self, _took: Duration) {}
    /// The sink waited `waited` for deliveries (in-flight bound reached, or queue full).
    fn backpressure(&self, _waited: Duration) {}
    /// Kafka acknowledged a record whose value had `bytes` bytes.
    fn delivered(&self, tag: T, bytes: u64);
    /// Kafka did not take a record, after librdkafka's own retries.
    fn failed(&self, tag: T);
}

/// A delivery future with what is needed to account for it.
struct Tracked<T> {
    future: DeliveryFuture,
    tag: T,
    bytes: u64,
    sent: Instant,
}

struct Delivery<T> {
    tag: T,
    bytes: u64,
    latency: Duration,
    result: Result<(), KafkaError>,
}

impl<T: Copy + Unpin> Future for Tracked<T> {
    type Output = Delivery<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Delivery<T>> {
        let this = &mut *self;
        this.future.poll_unpin(cx).map(|outcome| Delivery {
            tag: this.tag,
            bytes: this.bytes,
            latency: this.sent.elapsed(),
            result: match outcome {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((source, _))) => Err(KafkaError::Delivery(userstream_endpoints::Cause(
                    Box::new(source),
                ))),
                Err(_) => Err(KafkaError::DeliveryDropped),
            },
        })
    }
}

/// Sends records to Kafka keeping at most `max_in_flight` unacknowledged, and reports each
/// delivery to its [`SinkObserver`]. Delivery errors do not stop it: they are counted, and the
/// first is kept ([`Sink::first_error`]) for the run's summary.
pub struct Sink<T> {
    producer: FutureProducer<TracingContext>,
    in_flight: FuturesUnordered<Tracked<T>>,
    max_in_flight: usize,
    observer: Arc<dyn SinkObserver<T>>,
    latency: LatencyHistogram,
    first_error: Option<KafkaError>,
    sends: u64,
}

impl<T: Copy + Unpin> Sink<T> {
    /// A sink over `producer` (see [`crate::base_config`] and the caller's producer settings).
    pub fn new(
        producer: FutureProducer<TracingContext>,
        max_in_flight: usize,
        observer: Arc<dyn SinkObserver<T>>,
    ) -> Self {
        Self {
            producer,
            in_flight: FuturesUnordered::new(),
            max_in_flight: max_in_flight.max(1),
            observer,
            latency: LatencyHistogram::default(),
            first_error: None,
            sends: 0,
        }
    }

    /// Hands one record to the producer, first waiting for a delivery when `max_in_flight`
    /// are unacknowledged or librdkafka's queue is full. Returns once the record is queued
    /// (or refused: then it counts as failed).
    pub async fn send(
        &mut self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
        headers: &[(&str, &str)],
        tag: T,
    ) {
        if self.in_flight.len() >= self.max_in_flight {
            let waited = Instant::now();
            self.reap_one().await;
            self.observer.backpressure(waited.elapsed());
        }
        let mut record = FutureRecord::to(topic).key(key).payload(payload);
        if !headers.is_empty() {
            record = record.headers(owned_headers(headers));
        }
        loop {
            let started = Instant::now();
            let result = self.producer.send_result(record);
            self.observer.send_call(started.elapsed());
            match result {
                Ok(future) => {
                    self.in_flight.push(Tracked {
                        future,
                        tag,
                        bytes: payload.len() as u64,
                        sent: started,
                    });
                    break;
                }
                Err((RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's queue is full: let deliveries catch up instead of blocking
                    // a thread or buffering more.
                    record = back;
                    let waited = Instant::now();
                    if self.in_flight.is_empty() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        self.reap_one().await;
                    }
                    self.observer.backpressure(waited.elapsed());
                }
                Err((source, _)) => {
                    self.fail(
                        tag,
                        KafkaError::Produce {
                            topic: topic.to_owned(),
                            source: userstream_endpoints::Cause(Box::new(source)),
                        },
                    );
                    break;
                }
            }
        }
        self.sends += 1;
        // Account finished deliveries now and then without waiting, so counters stay live.
        if self.sends.is_multiple_of(64) {
            self.reap_ready();
        }
    }

    fn reap_ready(&mut self) {
        while let Some(Some(delivery)) = self.in_flight.next().now_or_never() {
            self.account(delivery);
        }
    }

    async fn reap_one(&mut self) {
        if let Some(delivery) = self.in_flight.next().await {
            self.account(delivery);
        }
    }

    fn account(&mut self, delivery: Delivery<T>) {
        self.latency.record(delivery.latency);
        match delivery.result {
            Ok(()) => self.observer.delivered(delivery.tag, delivery.bytes),
            Err(error) => self.fail(delivery.tag, error),
        }
    }

    fn fail(&mut self, tag: T, error: KafkaError) {
        self.observer.failed(tag);
        if self.first_error.is_none() {
            tracing::error!(%error, "Kafka did not take a message");
            self.first_error = Some(error);
        }
    }

    /// Waits for every outstanding delivery, at most `timeout`; then flushes. Returns how many
    /// were still unacknowledged.
    pub async fn drain(&mut self, timeout: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, self.in_flight.next()).await {
                Ok(Some(delivery)) => self.account(delivery),
                Ok(None) | Err(_) => break,
            }
        }
        let producer = self.producer.clone();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let _ = tokio::task::spawn_blocking(move || {
            producer.flush(left.max(Duration::from_millis(100)))
        })
        .await;
        self.in_flight.len() as u64
    }

    /// Delivery latencies so far (send call to acknowledgement).
    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    /// The first record Kafka did not take, if any.
    pub fn first_error(&self) -> Option<&KafkaError> {
        self.first_error.as_ref()
    }
}

fn owned_headers(headers: &[(&str, &str)]) -> OwnedHeaders {
    headers.iter().fold(OwnedHeaders::new(), |h, (key, value)| {
        h.insert(Header {
            key,
            value: Some(value.as_bytes()),
        })
    })
}

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// An idempotent producer for records no pipeline writes ([`send_many`], [`send_one`]).
fn one_off_producer(
    bootstrap: &KafkaAccess,
    timeout: Duration,
) -> Result<FutureProducer<TracingContext>, KafkaError> {
    base_config(bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", timeout.as_millis().to_string())
        .create_with_context(TracingContext)
        .map_err(|source| KafkaError::Client {
            action: "creating a producer".to_owned(),
            bootstrap: bootstrap.to_string(),
            source: userstream_endpoints::Cause(Box::new(source)),
        })
}

/// Sends `records` (key, value) through one idempotent producer and waits for every
/// delivery: for records no pipeline writes (a second team's producer in `chaos`, a test's
/// hand-framed records). Fails on the first record Kafka refused.
pub async fn send_many(
    bootstrap: &KafkaAccess,
    topic: &str,
    records: &[(Vec<u8>, Vec<u8>)],
    timeout: Duration,
) -> Result<(), KafkaError> {
    let producer = one_off_producer(bootstrap, timeout)?;
    let mut deliveries: FuturesUnordered<_> = records
        .iter()
        .map(|(key, value)| producer.send(FutureRecord::to(topic).key(key).payload(value), timeout))
        .collect();
    while let Some(outcome) = deliveries.next().await {
        if let Err((source, _)) = outcome {
            return Err(KafkaError::Produce {
                topic: topic.to_owned(),
                source: userstream_endpoints::Cause(Box::new(source)),
            });
        }
    }
    Ok(())
}

/// Sends one record and waits for its delivery: for records no pipeline would write (a
/// test's poison records or hand-made dead letters). Users go through `userstream-ingest`.
pub async fn send_one(
    bootstrap: &KafkaAccess,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Delivered, KafkaError> {
    let producer = one_off_producer(bootstrap, timeout)?;
    let mut record = FutureRecord::to(topic).key(key).payload(payload);
    if !headers.is_empty() {
        record = record.headers(owned_headers(headers));
    }
    match producer.send(record, timeout).await {
        Ok(d) => Ok(Delivered {
            partition: d.partition,
            offset: d.offset,
        }),
        Err((source, _)) => Err(KafkaError::Produce {
            topic: topic.to_owned(),
            source: userstream_endpoints::Cause(Box::new(source)),
        }),
    }
}
