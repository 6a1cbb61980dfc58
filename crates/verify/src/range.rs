//! The pure half of `verify --incremental`: what lies between the last verified cut and a
//! new one, and where the older records to recheck are drawn from.

use std::fmt;

use rand::Rng;
use userstream_kafka::{PartitionOffsets, TopicCut};

/// What an incremental run reads, from a previous cut (verified) to a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The records to read, as a cut: per partition of the new cut, from the previous high
    /// (or the log start, when retention moved past it) to the new high. A partition added
    /// since the previous cut is read from its log start.
    pub range: TopicCut,
    /// The records before the previous cut that Kafka still holds: where the rechecks are
    /// drawn from.
    pub older: TopicCut,
    /// Records after the previous cut that retention deleted before this run could read them:
    /// out of reach, not checked.
    pub skipped: u64,
}

/// Why an incremental run compares everything instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// No cut was stored yet (the first incremental run, or none was clean so far).
    NoStoredCut,
    /// The stored cut could not be read or is not a cut of this topic and keyspace.
    Unusable(String),
    /// A partition of the stored cut is gone: the topic was recreated.
    PartitionGone {
        /// The partition.
        partition: i32,
    },
    /// A partition's end offset is below the stored one: the topic was recreated.
    OffsetsWentBack {
        /// The partition.
        partition: i32,
        /// Its end offset in the stored cut.
        stored: i64,
        /// Its end offset now.
        now: i64,
    },
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStoredCut => write!(f, "no verified cut stored yet"),
            Self::Unusable(why) => write!(f, "the stored cut is unusable: {why}"),
            Self::PartitionGone { partition } => write!(
                f,
                "partition {partition} of the stored cut no longer exists (topic recreated?)"
            ),
            Self::OffsetsWentBack {
                partition,
                stored,
                now,
            } => write!(
                f,
                "partition {partition} ends at offset {now}, before the stored cut's {stored} \
                 (topic recreated?)"
            ),
        }
    }
}

/// What to read to go from `previous` (a verified cut) to `now`, or why that cannot be done
/// and everything must be compared.
pub fn plan(previous: &TopicCut, now: &TopicCut) -> Result<Plan, Fallback> {
    if previous.topic != now.topic {
        return Err(Fallback::Unusable(format!(
            "it is a cut of topic {}, not {}",
            previous.topic, now.topic
        )));
    }
    if let Some(gone) = previous
        .partitions
        .iter()
        .find(|p| !now.partitions.iter().any(|n| n.partition == p.partition))
    {
        return Err(Fallback::PartitionGone {
            partition: gone.partition,
        });
    }
    let (mut range, mut older, mut skipped) = (Vec::new(), Vec::new(), 0u64);
    for n in &now.partitions {
        // A partition added since the previous cut: all its records came after it.
        let previous_high = previous
            .partitions
            .iter()
            .find(|p| p.partition == n.partition)
            .map_or(0, |p| p.high);
        if n.high < previous_high {
            return Err(Fallback::OffsetsWentBack {
                partition: n.partition,
                stored: previous_high,
                now: n.high,
            });
        }
        let start = previous_high.max(n.low);
        skipped += u64::try_from(n.low - previous_high).unwrap_or(0);
        range.push(PartitionOffsets {
            partition: n.partition,
            low: start,
            high: n.high,
        });
        older.push(PartitionOffsets {
            partition: n.partition,
            low: n.low,
            high: start,
        });
    }
    let cut = |partitions| TopicCut {
        topic: now.topic.clone(),
        partitions,
    };
    Ok(Plan {
        range: cut(range),
        older: cut(older),
        skipped,
    })
}

/// Up to `n` distinct positions drawn uniformly from the records of `cut`, in partition and
/// offset order (the order a reader fetches them fastest).
pub fn sample_positions(cut: &TopicCut, n: usize, rng: &mut impl Rng) -> Vec<(i32, i64)> {
    let total = usize::try_from(cut.records()).unwrap_or(0);
    let mut picks = rand::seq::index::sample(rng, total, n.min(total)).into_vec();
    picks.sort_unstable();
    let mut picks = picks.into_iter().peekable();
    let (mut out, mut base) = (Vec::with_capacity(n.min(total)), 0usize);
    for p in &cut.partitions {
        let len = usize::try_from(p.high - p.low).unwrap_or(0);
        while let Some(&i) = picks.peek() {
            if i >= base + len {
                break;
            }
            out.push((p.partition, p.low + i64::try_from(i - base).unwrap_or(0)));
            picks.next();
        }
        base += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn cut(partitions: &[(i32, i64, i64)]) -> TopicCut {
        TopicCut {
            topic: "users".into(),
            partitions: partitions
                .iter()
                .map(|&(partition, low, high)| PartitionOffsets {
                    partition,
                    low,
                    high,
                })
                .collect(),
        }
    }

    #[test]
    fn only_the_records_after_the_previous_cut_are_read() {
        let previous = cut(&[(0, 0, 100), (1, 0, 50)]);
        let now = cut(&[(0, 0, 130), (1, 0, 50)]);
        let plan = plan(&previous, &now).unwrap();
        assert_eq!(plan.range, cut(&[(0, 100, 130), (1, 50, 50)]));
        assert_eq!(plan.range.records(), 30);
        assert_eq!(plan.older, cut(&[(0, 0, 100), (1, 0, 50)]));
        assert_eq!(plan.skipped, 0);
    }

    #[test]
    fn records_retention_deleted_after_the_previous_cut_are_skipped_and_counted() {
        // Partition 0's log start moved from 10 past the previous high (100) to 120.
        let previous = cut(&[(0, 10, 100), (1, 0, 50)]);
        let now = cut(&[(0, 120, 150), (1, 20, 60)]);
        let plan = plan(&previous, &now).unwrap();
        assert_eq!(plan.range, cut(&[(0, 120, 150), (1, 50, 60)]));
        assert_eq!(plan.skipped, 20);
        // Nothing older is left in partition 0; partition 1 holds 20..50.
        assert_eq!(plan.older, cut(&[(0, 120, 120), (1, 20, 50)]));
        assert_eq!(plan.older.records(), 30);
    }

    #[test]
    fn a_partition_added_since_the_previous_cut_is_read_whole() {
        let previous = cut(&[(0, 0, 100)]);
        let now = cut(&[(0, 0, 100), (1, 0, 40), (2, 5, 9)]);
        let plan = plan(&previous, &now).unwrap();
        assert_eq!(plan.range, cut(&[(0, 100, 100), (1, 0, 40), (2, 5, 9)]));
        assert_eq!(plan.older, cut(&[(0, 0, 100), (1, 0, 0), (2, 5, 5)]));
        // Partition 2 lost 5 records to retention before any run saw them.
        assert_eq!(plan.skipped, 5);
    }

    #[test]
    fn a_recreated_topic_falls_back_to_the_full_comparison() {
        let previous = cut(&[(0, 0, 100), (1, 0, 50)]);
        assert_eq!(
            plan(&previous, &cut(&[(0, 0, 100)])),
            Err(Fallback::PartitionGone { partition: 1 })
        );
        assert_eq!(
            plan(&previous, &cut(&[(0, 0, 10), (1, 0, 50)])),
            Err(Fallback::OffsetsWentBack {
                partition: 0,
                stored: 100,
                now: 10
            })
        );
        let other = TopicCut {
            topic: "other".into(),
            ..previous.clone()
        };
        assert!(matches!(
            plan(&other, &previous),
            Err(Fallback::Unusable(_))
        ));
        // Nothing new is not a reason to fall back: an empty range.
        assert_eq!(plan(&previous, &previous).unwrap().range.records(), 0);
    }

    #[test]
    fn sampled_positions_are_distinct_inside_the_cut_and_ordered() {
        let older = cut(&[(0, 100, 110), (1, 0, 0), (2, 50, 1_000_000)]);
        let mut rng = SmallRng::seed_from_u64(7);
        let positions = sample_positions(&older, 200, &mut rng);
        assert_eq!(positions.len(), 200);
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "sorted, distinct"
        );
        for &(partition, offset) in &positions {
            assert_eq!(
                older.position(partition, offset),
                userstream_kafka::CutPosition::Within
            );
        }
        // Fewer records than asked: every one of them.
        let small = cut(&[(0, 3, 6), (1, 0, 2)]);
        assert_eq!(
            sample_positions(&small, 200, &mut rng),
            [(0, 3), (0, 4), (0, 5), (1, 0), (1, 1)]
        );
        assert!(sample_positions(&cut(&[(0, 5, 5)]), 10, &mut rng).is_empty());
    }
}
