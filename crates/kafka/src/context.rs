use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use userstream_endpoints::KafkaAccess;

/// Logs `$message` at `$severity` (a [`Severity`]) with the field `$field` and, when repeats
/// were held back, their number.
macro_rules! emit {
    ($severity:expr, $field:ident = $value:expr, $suppressed:expr, $message:expr) => {
        match ($severity, $suppressed) {
            (Severity::Error, 0) => tracing::error!(target: "librdkafka", $field = %$value, "{}", $message),
            (Severity::Error, n) => tracing::error!(target: "librdkafka", $field = %$value, suppressed = n, "{}", $message),
            (Severity::Warn, 0) => tracing::warn!(target: "librdkafka", $field = %$value, "{}", $message),
            (Severity::Warn, n) => tracing::warn!(target: "librdkafka", $field = %$value, suppressed = n, "{}", $message),
            (Severity::Info, 0) => tracing::info!(target: "librdkafka", $field = %$value, "{}", $message),
            (Severity::Info, n) => tracing::info!(target: "librdkafka", $field = %$value, suppressed = n, "{}", $message),
            (Severity::Debug, 0) => tracing::debug!(target: "librdkafka", $field = %$value, "{}", $message),
            (Severity::Debug, n) => tracing::debug!(target: "librdkafka", $field = %$value, suppressed = n, "{}", $message),
        }
    };
}

/// Client context that forwards librdkafka's own logs and errors into `tracing` (target
/// `librdkafka`): each event once, though librdkafka reports a broker failure both as a log line
/// and as an error event; a broker out of reach as a warning; the same event at most once per
/// 30 s, with the number of repeats held back since (field `suppressed`).
#[derive(Clone, Default)]
pub struct TracingContext;

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let routed = route_log(&mut repeats(), level, fac, log_message, Instant::now());
        if let Some((severity, suppressed)) = routed {
            emit!(severity, fac = fac, suppressed, log_message);
        }
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        let name = code.map_or_else(|| error.to_string(), |code| format!("{code:?}"));
        let now = Instant::now();
        let routed = REDELIVERY.with_borrow_mut(|redelivery| {
            route_error(&mut repeats(), redelivery, code, &name, reason, now)
        });
        if let Some((severity, suppressed)) = routed {
            emit!(severity, code = name, suppressed, reason);
        }
    }
}

impl ConsumerContext for TracingContext {}

impl ProducerContext for TracingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _result: &DeliveryResult<'_>, _opaque: Self::DeliveryOpaque) {}
}

/// A client configuration with the settings every userstream client shares, logged in as
/// `kafka`'s user (SASL SCRAM-SHA-512) when it has one.
pub fn base_config(kafka: &KafkaAccess) -> ClientConfig {
    let mut config = ClientConfig::new();
    if let Some(login) = &kafka.login {
        config
            .set("security.protocol", "sasl_plaintext")
            .set("sasl.mechanism", "SCRAM-SHA-512")
            .set("sasl.username", &login.username)
            .set("sasl.password", &login.password);
    }
    config
        .set("bootstrap.servers", &kafka.bootstrap)
        // Loopback stack: fail fast on a dead broker instead of librdkafka's long defaults.
        .set("socket.connection.setup.timeout.ms", "5000")
        // "[thrd:<broker>]: " before every line repeats the broker the line names already.
        .set("log.thread.name", "false")
        .set_log_level(RDKafkaLogLevel::Warning);
    config
}

/// How loud one librdkafka event is in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Severity {
    Error,
    Warn,
    Info,
    Debug,
}

/// Facilities of log lines that librdkafka also sends, word for word, as an error event (to
/// [`ClientContext::error`]): a broker failure (`rd_kafka_broker_set_error`: "FAIL") and a fatal
/// error (`rd_kafka_set_fatal_error0`: "FATAL"). The error event is the one kept: it comes
/// whatever `log_level` is, and it carries the error code that says how grave it is.
const REPORTED_AS_ERRORS: [&str; 2] = ["FAIL", "FATAL"];

/// The severity of a log line from librdkafka, `None` when its error event reports it.
fn log_severity(level: RDKafkaLogLevel, facility: &str) -> Option<Severity> {
    if REPORTED_AS_ERRORS.contains(&facility) {
        return None;
    }
    Some(match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => Severity::Error,
        RDKafkaLogLevel::Warning => Severity::Warn,
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => Severity::Info,
        RDKafkaLogLevel::Debug => Severity::Debug,
    })
}

/// The severity of an error event: a broker that cannot be reached (it restarts, the network
/// blinks) is a warning, since librdkafka reconnects and retries by itself; anything else
/// (authentication, TLS, a fatal error, ...) needs a person.
fn error_severity(code: Option<RDKafkaErrorCode>) -> Severity {
    match code {
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::Resolve
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::TimedOutQueue
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::BrokerNotAvailable
            | RDKafkaErrorCode::NetworkException,
        ) => Severity::Warn,
        _ => Severity::Error,
    }
}

/// What to log for a log line from librdkafka: its severity and the repeats held back since
/// it was last logged; `None` when it is not logged (its error event reports it, or it repeats).
fn route_log(
    repeats: &mut Repeats,
    level: RDKafkaLogLevel,
    facility: &str,
    message: &str,
    now: Instant,
) -> Option<(Severity, u64)> {
    let severity = log_severity(level, facility)?;
    let suppressed = repeats.admit(&event_key(facility, message), now)?;
    Some((severity, suppressed))
}

/// What to log for an error event named `name` (its code's name): as [`route_log`].
fn route_error(
    repeats: &mut Repeats,
    redelivery: &mut Redelivery,
    code: Option<RDKafkaErrorCode>,
    name: &str,
    reason: &str,
    now: Instant,
) -> Option<(Severity, u64)> {
    let key = event_key(name, reason);
    if redelivery.is_redelivery(&key, now) {
        return None;
    }
    let suppressed = repeats.admit(&key, now)?;
    Some((error_severity(code), suppressed))
}

/// rdkafka 0.38's `BaseProducer::poll` (under every producer) hands each error event to
/// [`ClientContext::error`] twice in a row: `Client::poll_event` calls it, then returns the event
/// to the producer, whose own handler calls it again. This recognises the second call: the same
/// event again, at once, on the same thread. (A consumer's poll calls it once.)
#[derive(Debug, Default)]
struct Redelivery {
    last: Option<(String, Instant)>,
}

impl Redelivery {
    /// The two calls are microseconds apart; librdkafka reports a broker failure again only
    /// after a reconnect backoff (100 ms and up).
    const GAP: Duration = Duration::from_millis(50);

    /// Whether the error event `key` at `now` is the previous call's event handed over again.
    fn is_redelivery(&mut self, key: &str, now: Instant) -> bool {
        match self.last.take() {
            Some((last, at)) if last == key && now.saturating_duration_since(at) < Self::GAP => {
                true
            }
            _ => {
                self.last = Some((key.to_owned(), now));
                false
            }
        }
    }
}

thread_local! {
    static REDELIVERY: RefCell<Redelivery> = RefCell::default();
}

/// How often the same event (source and message) reaches the log at most.
const REPEAT_WINDOW: Duration = Duration::from_secs(30);

/// The part of a message that names the event: librdkafka appends "(after 5003ms in state
/// CONNECT[, 3 identical error(s) suppressed])" to broker failures, which differs every time.
fn event_key(source: &str, message: &str) -> String {
    let message = message
        .split_once(" (after ")
        .map_or(message, |(head, _)| head);
    format!("{source}: {message}")
}

/// Which repeats of an event were logged and how many were held back since.
#[derive(Debug)]
struct Repeats {
    window: Duration,
    events: HashMap<String, Seen>,
}

#[derive(Debug)]
struct Seen {
    logged_at: Instant,
    suppressed: u64,
}

impl Repeats {
    /// Past this many remembered events, those whose window has passed are forgotten.
    const REMEMBERED: usize = 256;

    fn new(window: Duration) -> Self {
        Self {
            window,
            events: HashMap::new(),
        }
    }

    /// Whether the event `key` seen at `now` is logged: `Some(n)` with the `n` repeats held
    /// back since it was last logged, or `None` when it is held back (and counted).
    fn admit(&mut self, key: &str, now: Instant) -> Option<u64> {
        if let Some(seen) = self.events.get_mut(key) {
            if now.saturating_duration_since(seen.logged_at) < self.window {
                seen.suppressed += 1;
                return None;
            }
            let suppressed = seen.suppressed;
            *seen = Seen {
                logged_at: now,
                suppressed: 0,
            };
            return Some(suppressed);
        }
        if self.events.len() >= Self::REMEMBERED {
            // Forget events past their window, but keep a pending count until its event comes
            // again, unless a flood of distinct events leaves no other way to stay bounded.
            let window = self.window;
            self.events.retain(|_, seen| {
                seen.suppressed > 0 || now.saturating_duration_since(seen.logged_at) < window
            });
            if self.events.len() >= Self::REMEMBERED * 4 {
                self.events.clear();
            }
        }
        self.events.insert(
            key.to_owned(),
            Seen {
                logged_at: now,
                suppressed: 0,
            },
        );
        Some(0)
    }
}

/// One memory of repeats for the whole process: every client sees the same broker go away.
static REPEATS: LazyLock<Mutex<Repeats>> =
    LazyLock::new(|| Mutex::new(Repeats::new(REPEAT_WINDOW)));

fn repeats() -> MutexGuard<'static, Repeats> {
    REPEATS.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Arc;

    use rdkafka::producer::BaseProducer;

    #[test]
    fn broker_failures_and_fatal_errors_are_left_to_their_error_event() {
        assert_eq!(log_severity(RDKafkaLogLevel::Error, "FAIL"), None);
        assert_eq!(log_severity(RDKafkaLogLevel::Warning, "FAIL"), None);
        assert_eq!(log_severity(RDKafkaLogLevel::Emerg, "FATAL"), None);
    }

    #[test]
    fn other_log_lines_keep_librdkafkas_level() {
        assert_eq!(
            log_severity(RDKafkaLogLevel::Critical, "WSAWAIT"),
            Some(Severity::Error)
        );
        assert_eq!(
            log_severity(RDKafkaLogLevel::Warning, "REQTMOUT"),
            Some(Severity::Warn)
        );
        assert_eq!(
            log_severity(RDKafkaLogLevel::Notice, "CONFWARN"),
            Some(Severity::Info)
        );
        assert_eq!(
            log_severity(RDKafkaLogLevel::Debug, "BROKER"),
            Some(Severity::Debug)
        );
    }

    #[test]
    fn an_unreachable_broker_is_a_warning_and_a_refused_login_an_error() {
        for code in [
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::Resolve,
        ] {
            assert_eq!(error_severity(Some(code)), Severity::Warn, "{code:?}");
        }
        for code in [
            RDKafkaErrorCode::Authentication,
            RDKafkaErrorCode::Fatal,
            RDKafkaErrorCode::SaslAuthenticationFailed,
        ] {
            assert_eq!(error_severity(Some(code)), Severity::Error, "{code:?}");
        }
        assert_eq!(error_severity(None), Severity::Error);
    }

    #[test]
    fn the_key_leaves_out_what_changes_between_repeats() {
        let first = "sasl_plaintext://127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed: \
                     Connection refused (after 0ms in state CONNECT)";
        let again = "sasl_plaintext://127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed: \
                     Connection refused (after 5003ms in state CONNECT, 4 identical error(s) \
                     suppressed)";
        assert_eq!(
            event_key("BrokerTransportFailure", first),
            event_key("BrokerTransportFailure", again)
        );
        assert_ne!(
            event_key("BrokerTransportFailure", first),
            event_key("AllBrokersDown", first)
        );
        assert_eq!(
            event_key("AllBrokersDown", "1/1 brokers are down"),
            "AllBrokersDown: 1/1 brokers are down"
        );
    }

    #[test]
    fn a_repeat_is_held_back_for_the_window_then_logged_with_the_count() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut repeats = Repeats::new(Duration::from_secs(30));
        assert_eq!(repeats.admit("down", at(0)), Some(0));
        assert_eq!(repeats.admit("down", at(1)), None);
        assert_eq!(repeats.admit("down", at(29)), None);
        assert_eq!(repeats.admit("other", at(29)), Some(0));
        assert_eq!(repeats.admit("down", at(30)), Some(2));
        assert_eq!(repeats.admit("down", at(31)), None);
        assert_eq!(repeats.admit("down", at(100)), Some(1));
        assert_eq!(repeats.admit("down", at(200)), Some(0));
    }

    #[test]
    fn memory_stays_bounded_and_keeps_pending_counts() {
        let start = Instant::now();
        let mut repeats = Repeats::new(Duration::from_secs(30));
        assert_eq!(repeats.admit("held", start), Some(0));
        assert_eq!(repeats.admit("held", start), None);
        for i in 0..(Repeats::REMEMBERED * 3) {
            let at = start + Duration::from_secs(60 + i as u64);
            assert_eq!(repeats.admit(&format!("event {i}"), at), Some(0));
        }
        assert!(repeats.events.len() <= Repeats::REMEMBERED + 1);
        assert_eq!(
            repeats.admit("held", start + Duration::from_secs(61)),
            Some(1)
        );
    }

    #[test]
    fn the_second_of_two_calls_at_once_is_a_redelivery() {
        let start = Instant::now();
        let mut redelivery = Redelivery::default();
        assert!(!redelivery.is_redelivery("down", start));
        assert!(redelivery.is_redelivery("down", start + Duration::from_micros(20)));
        // A third is a new event (the limiter decides), and so is one after a backoff.
        assert!(!redelivery.is_redelivery("down", start + Duration::from_micros(40)));
        assert!(!redelivery.is_redelivery("down", start + Duration::from_millis(100)));
        assert!(!redelivery.is_redelivery("other", start + Duration::from_millis(100)));
    }

    #[test]
    fn a_broker_restart_reaches_the_log_once_per_event() {
        let failed = "sasl_plaintext://127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed: \
                      Connection refused (after 0ms in state CONNECT)";
        let refused = Some(RDKafkaErrorCode::BrokerTransportFailure);
        let down = Some(RDKafkaErrorCode::AllBrokersDown);
        let (mut repeats, mut redelivery) = (Repeats::new(REPEAT_WINDOW), Redelivery::default());
        let start = Instant::now();
        let mut route = |millis, log: Option<(RDKafkaLogLevel, &str)>, code, reason| {
            let now = start + Duration::from_millis(millis);
            match log {
                Some((level, fac)) => route_log(&mut repeats, level, fac, reason, now),
                None => {
                    let name = format!("{code:?}");
                    route_error(&mut repeats, &mut redelivery, code, &name, reason, now)
                }
            }
        };
        let log_line = Some((RDKafkaLogLevel::Error, "FAIL"));
        assert_eq!(route(0, log_line, None, failed), None);
        assert_eq!(route(0, None, refused, failed), Some((Severity::Warn, 0)));
        assert_eq!(route(0, None, refused, failed), None);
        assert_eq!(
            route(1, None, down, "1/1 brokers are down"),
            Some((Severity::Warn, 0))
        );
        assert_eq!(route(1, None, down, "1/1 brokers are down"), None);
        // Another client of the process says the same a second later: held back, counted.
        assert_eq!(route(1_000, None, refused, failed), None);
        assert_eq!(
            route(31_000, None, refused, failed),
            Some((Severity::Warn, 1))
        );
    }

    /// What librdkafka hands a context, as it comes.
    #[derive(Debug, Clone)]
    enum Raw {
        Log(RDKafkaLogLevel, String, String),
        Error(Option<RDKafkaErrorCode>, String),
    }

    #[derive(Clone, Default)]
    struct Recording(Arc<Mutex<Vec<Raw>>>);

    impl ClientContext for Recording {
        fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
            let raw = Raw::Log(level, fac.to_owned(), log_message.to_owned());
            self.0.lock().unwrap().push(raw);
        }
        fn error(&self, error: RdKafkaError, reason: &str) {
            let raw = Raw::Error(error.rdkafka_error_code(), reason.to_owned());
            self.0.lock().unwrap().push(raw);
        }
    }

    impl ProducerContext for Recording {
        type DeliveryOpaque = ();
        fn delivery(&self, _result: &DeliveryResult<'_>, _opaque: Self::DeliveryOpaque) {}
    }

    /// Checked against the librdkafka and rdkafka in Cargo.lock: a broker that refuses
    /// connections (a port nobody listens on) is reported as a FAIL log line, the same text as
    /// an error event handed over twice, then "all brokers down" (twice); the context logs the
    /// refusal and "all brokers down" once each, as warnings.
    #[test]
    fn a_refused_connection_reaches_the_log_once_as_a_warning() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let recording = Recording::default();
        let producer: BaseProducer<Recording> =
            base_config(&KafkaAccess::plaintext(format!("127.0.0.1:{port}")))
                .create_with_context(recording.clone())
                .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let all_down = |raws: &[Raw]| {
            raws.iter()
                .any(|raw| matches!(raw, Raw::Error(Some(RDKafkaErrorCode::AllBrokersDown), _)))
        };
        while !all_down(&recording.0.lock().unwrap()) && Instant::now() < deadline {
            producer.poll(Duration::from_millis(100));
        }
        drop(producer);
        let raws = recording.0.lock().unwrap().clone();
        assert!(all_down(&raws), "no AllBrokersDown within 20 s: {raws:#?}");

        // The premise: every log line is also an error event, word for word.
        for raw in &raws {
            if let Raw::Log(_, fac, message) = raw {
                assert_eq!(fac, "FAIL", "{raws:#?}");
                let twin = |r: &Raw| matches!(r, Raw::Error(_, reason) if reason == message);
                assert!(raws.iter().any(twin), "no error event for {raw:?}");
            }
        }

        // What reaches the log: the refused connection and "all brokers down", once each.
        let (mut repeats, mut redelivery) = (Repeats::new(REPEAT_WINDOW), Redelivery::default());
        let now = Instant::now();
        let logged: Vec<(Severity, String)> = raws
            .iter()
            .filter_map(|raw| match raw {
                Raw::Log(level, fac, message) => route_log(&mut repeats, *level, fac, message, now)
                    .map(|(severity, _)| (severity, message.clone())),
                Raw::Error(code, reason) => {
                    let name = format!("{code:?}");
                    route_error(&mut repeats, &mut redelivery, *code, &name, reason, now)
                        .map(|(severity, _)| (severity, reason.clone()))
                }
            })
            .collect();
        assert_eq!(logged.len(), 2, "{logged:#?}\nfrom {raws:#?}");
        assert!(logged
            .iter()
            .all(|(severity, _)| *severity == Severity::Warn));
        assert!(logged[0].1.contains("Connection refused"), "{logged:#?}");
        assert_eq!(logged[1].1, "1/1 brokers are down");
    }
}
