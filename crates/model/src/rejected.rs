//! `rejected_rows`: the Kafka records the Spark job could not decode, one row each, with the
//! reason. Declared once, here, like `users` ([`crate::record::COLUMNS`]): the table's
//! migration (`userstream-store`), the job's projection (`userstream-stream`'s plan) and the
//! typed row read back (`userstream_store::RejectedRow`) are each derived from
//! [`REJECTED_COLUMNS`] or checked against it by a test.

use std::fmt;

/// The table's name.
pub const REJECTED_TABLE: &str = "rejected_rows";

/// Why the job could not decode a Kafka record: the `reason` column. Checked in this order,
/// most basic failure first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UndecodableReason {
    /// No value, or fewer than the 5 bytes of a Confluent frame's header.
    TooShort,
    /// The first byte is not the frame's magic byte 0.
    BadMagic,
    /// The frame's schema id is not a version of the subject the job reads.
    UnknownSchemaId,
    /// The frame's Avro datum does not decode with the schema its id names.
    AvroDecodeFailed,
    /// The record decoded, but its `id` is not a UUID.
    InvalidId,
}

impl UndecodableReason {
    /// Every reason, in the order the job checks them.
    pub const ALL: [Self; 5] = [
        Self::TooShort,
        Self::BadMagic,
        Self::UnknownSchemaId,
        Self::AvroDecodeFailed,
        Self::InvalidId,
    ];

    /// The code stored in the `reason` column.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::BadMagic => "bad_magic",
            Self::UnknownSchemaId => "unknown_schema_id",
            Self::AvroDecodeFailed => "avro_decode_failed",
            Self::InvalidId => "invalid_id",
        }
    }

    /// The reason a stored code names, if it is one of ours.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for UndecodableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What the job stores in a column of `rejected_rows`: each is one expression of the job's
/// projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectedValue {
    /// The record's topic.
    Topic,
    /// The record's partition.
    Partition,
    /// The record's offset.
    Offset,
    /// An [`UndecodableReason`] code.
    Reason,
    /// The schema id in the frame, when there is a frame.
    SchemaId,
    /// The record's value, as read.
    Payload,
    /// The value's length in bytes (0 without a value).
    PayloadSize,
    /// The record's Kafka timestamp.
    KafkaTimestamp,
    /// When the job's batch wrote it.
    FirstSeen,
}

/// One column of `rejected_rows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectedColumn {
    /// Column name.
    pub name: &'static str,
    /// Its CQL type, as `system_schema.columns` spells it.
    pub cql_type: &'static str,
    /// What the job stores in it.
    pub value: RejectedValue,
}

/// Every column of `rejected_rows`, in table order. The key is `((topic, kafka_partition),
/// kafka_offset)`: a record is rejected once however often its batch is replayed.
pub const REJECTED_COLUMNS: &[RejectedColumn] = &[
    column("topic", "text", RejectedValue::Topic),
    column("kafka_partition", "int", RejectedValue::Partition),
    column("kafka_offset", "bigint", RejectedValue::Offset),
    column("reason", "text", RejectedValue::Reason),
    column("schema_id", "bigint", RejectedValue::SchemaId),
    column("payload", "blob", RejectedValue::Payload),
    column("payload_size", "int", RejectedValue::PayloadSize),
    column(
        "kafka_timestamp",
        "timestamp",
        RejectedValue::KafkaTimestamp,
    ),
    column("first_seen", "timestamp", RejectedValue::FirstSeen),
];

const fn column(
    name: &'static str,
    cql_type: &'static str,
    value: RejectedValue,
) -> RejectedColumn {
    RejectedColumn {
        name,
        cql_type,
        value,
    }
}

/// `topic, kafka_partition, ...`: every column, in table order, for a `SELECT`.
pub fn rejected_column_list() -> String {
    REJECTED_COLUMNS
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for reason in UndecodableReason::ALL {
            assert_eq!(UndecodableReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(UndecodableReason::from_code("nonsense"), None);
    }

    #[test]
    fn every_value_is_stored_in_exactly_one_column() {
        let names: std::collections::BTreeSet<_> =
            REJECTED_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(
            names.len(),
            REJECTED_COLUMNS.len(),
            "a column is declared twice"
        );
        for (i, a) in REJECTED_COLUMNS.iter().enumerate() {
            for b in &REJECTED_COLUMNS[i + 1..] {
                assert_ne!(
                    a.value, b.value,
                    "{} and {} store the same value",
                    a.name, b.name
                );
            }
        }
    }
}
