use std::collections::BTreeMap;
use std::time::Duration;

use userstream_kafka::{PeekedMessage, TopicOffsets};
use userstream_model::dead_letter_headers as headers;

use crate::model::DeadLetterView;

/// One look at Kafka: every topic's offsets, the newest dead letters and the keys (user ids)
/// of the newest users.
#[derive(Debug, Clone)]
pub struct KafkaSample {
    /// Every non-internal topic.
    pub topics: Vec<TopicOffsets>,
    /// The newest dead letters, newest first.
    pub dead_letters: Vec<DeadLetterView>,
    /// Keys of the newest records of the users topic, newest first.
    pub newest_user_ids: Vec<String>,
}

fn header<'a>(message: &'a PeekedMessage, name: &str) -> Option<&'a str> {
    message
        .headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// A dead letter as the page lists it (headers set by the producer's DLQ writer).
pub fn dead_letter(message: &PeekedMessage) -> DeadLetterView {
    DeadLetterView {
        partition: message.partition,
        offset: message.offset,
        timestamp_ms: message.timestamp_ms,
        reason: header(message, headers::REASON)
            .unwrap_or("(no reason header)")
            .to_owned(),
        error_code: header(message, headers::ERROR_CODE)
            .unwrap_or("")
            .to_owned(),
        scope: header(message, headers::SCOPE).unwrap_or("").to_owned(),
        source_page: header(message, headers::SOURCE_PAGE).map(str::to_owned),
    }
}

/// Reads offsets of every topic, then the newest few messages of the DLQ and users topics.
///
/// `users_processed` (partition → offset the streaming query has reached) bounds the users
/// read-back: the newest users *the query has processed* are the ones Cassandra can show.
pub async fn kafka(
    bootstrap: &userstream_endpoints::KafkaAccess,
    users_topic: &str,
    dlq_topic: &str,
    users_processed: Option<&BTreeMap<i32, i64>>,
    newest: usize,
    timeout: Duration,
) -> Result<KafkaSample, String> {
    let topics = userstream_kafka::topic_offsets(bootstrap, timeout)
        .await
        .map_err(|e| userstream_endpoints::error_chain(&e))?;
    let tail = |name: &str| topics.iter().find(|t| t.name == name).cloned();
    // A few per partition so the newest `newest` overall are among them.
    let per_partition = newest as i64;
    let mut dead_letters = Vec::new();
    if let Some(dlq) = tail(dlq_topic) {
        let messages = userstream_kafka::newest_messages(bootstrap, &dlq, per_partition, timeout)
            .await
            .map_err(|e| userstream_endpoints::error_chain(&e))?;
        dead_letters = messages.iter().take(newest).map(dead_letter).collect();
    }
    let mut newest_user_ids = Vec::new();
    if let Some(mut users) = tail(users_topic) {
        if let Some(processed) = users_processed {
            for p in &mut users.partitions {
                p.high = p
                    .high
                    .min(processed.get(&p.partition).copied().unwrap_or(p.low));
            }
        }
        let messages = userstream_kafka::newest_messages(bootstrap, &users, per_partition, timeout)
            .await
            .map_err(|e| userstream_endpoints::error_chain(&e))?;
        newest_user_ids = messages
            .into_iter()
            .filter_map(|m| m.key)
            .take(newest)
            .collect();
    }
    Ok(KafkaSample {
        topics,
        dead_letters,
        newest_user_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letters_read_their_headers() {
        let message = PeekedMessage {
            partition: 1,
            offset: 7,
            timestamp_ms: Some(5),
            key: Some("k".into()),
            headers: vec![
                ("reason".into(), "email: not an address".into()),
                ("error_code".into(), "invalid_email".into()),
                ("scope".into(), "record".into()),
                ("source_page".into(), "3".into()),
            ],
            payload_bytes: 10,
        };
        let view = dead_letter(&message);
        assert_eq!(view.reason, "email: not an address");
        assert_eq!(view.error_code, "invalid_email");
        assert_eq!(view.source_page.as_deref(), Some("3"));
        let bare = dead_letter(&PeekedMessage {
            headers: vec![],
            ..message
        });
        assert_eq!(bare.reason, "(no reason header)");
    }
}
