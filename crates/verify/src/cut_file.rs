//! Where `verify --incremental` keeps the last cut it found clean: one small JSON file per
//! keyspace and topic in the state directory, replaced whole (never half-written) and
//! readable by the stack's user only.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use userstream_kafka::TopicCut;

/// The format written; a file of another version is not used (the run compares everything
/// and writes this one).
const VERSION: u32 = 1;

/// The contents of a cut file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCut {
    /// [`VERSION`] when written.
    pub version: u32,
    /// The topic compared.
    pub topic: String,
    /// The keyspace compared.
    pub keyspace: String,
    /// When the run that found it clean finished.
    pub verified_at: DateTime<Utc>,
    /// The cut: everything below each partition's `high` was verified.
    pub cut: TopicCut,
}

impl StoredCut {
    /// `cut` of `keyspace`, verified now.
    pub fn new(keyspace: &str, cut: TopicCut) -> Self {
        Self {
            version: VERSION,
            topic: cut.topic.clone(),
            keyspace: keyspace.to_owned(),
            verified_at: Utc::now(),
            cut,
        }
    }
}

/// The cut file of `keyspace` and `topic` under the state directory
/// (`<state>/data/verify/<keyspace>.<topic>.cut.json`: a keyspace has no dot, a topic no
/// slash).
pub fn cut_file(state_dir: &Path, keyspace: &str, topic: &str) -> PathBuf {
    state_dir
        .join("data")
        .join("verify")
        .join(format!("{keyspace}.{topic}.cut.json"))
}

/// What a cut file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// A cut of this topic and keyspace.
    Found(StoredCut),
    /// No file: no run was clean yet.
    Absent,
    /// A file that cannot be used, and why (the run then compares everything).
    Unusable(String),
}

/// Reads the cut file at `path` for `topic` and `keyspace`. Never fails: an unreadable or
/// corrupt file is [`Loaded::Unusable`], which a run treats as no cut.
pub fn load(path: &Path, topic: &str, keyspace: &str) -> Loaded {
    match fs::read_to_string(path) {
        Ok(text) => match parse(&text, topic, keyspace) {
            Ok(stored) => Loaded::Found(stored),
            Err(why) => Loaded::Unusable(format!("{}: {why}", path.display())),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Loaded::Absent,
        Err(e) => Loaded::Unusable(format!("{} cannot be read: {e}", path.display())),
    }
}

/// The stored cut in `text`, if it is one of `topic` and `keyspace` and its offsets make
/// sense; else why not.
pub fn parse(text: &str, topic: &str, keyspace: &str) -> Result<StoredCut, String> {
    let stored: StoredCut =
        serde_json::from_str(text).map_err(|e| format!("not a stored cut ({e})"))?;
    if stored.version != VERSION {
        return Err(format!(
            "format version {} (this verify reads {VERSION})",
            stored.version
        ));
    }
    if stored.topic != topic || stored.cut.topic != topic || stored.keyspace != keyspace {
        return Err(format!(
            "it is the cut of topic {} and keyspace {}, not {topic} and {keyspace}",
            stored.cut.topic, stored.keyspace
        ));
    }
    let partitions = &stored.cut.partitions;
    if partitions.is_empty() {
        return Err("it has no partition".into());
    }
    if partitions
        .windows(2)
        .any(|w| w[0].partition >= w[1].partition)
    {
        return Err("its partitions are not in order, or repeat".into());
    }
    if let Some(p) = partitions
        .iter()
        .find(|p| p.partition < 0 || p.low < 0 || p.low > p.high)
    {
        return Err(format!(
            "partition {} has impossible offsets {}..{}",
            p.partition, p.low, p.high
        ));
    }
    Ok(stored)
}

/// Writes `stored` to `path`, mode 0600 whatever the umask, through a temporary file renamed
/// into place: a crash leaves the previous cut or the new one, never half of one. Creates the
/// directory (0700) when needed.
pub fn save(path: &Path, stored: &StoredCut) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut text = serde_json::to_string_pretty(stored).map_err(io::Error::other)?;
    text.push('\n');
    let partial = path.with_extension("partial");
    // A partial file left by a crash keeps its mode when reopened: start from none.
    match fs::remove_file(&partial) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use userstream_kafka::PartitionOffsets;

    fn stored() -> StoredCut {
        StoredCut::new(
            "userstream",
            TopicCut {
                topic: "users".into(),
                partitions: vec![
                    PartitionOffsets {
                        partition: 0,
                        low: 0,
                        high: 120,
                    },
                    PartitionOffsets {
                        partition: 1,
                        low: 7,
                        high: 98,
                    },
                ],
            },
        )
    }

    #[test]
    fn the_file_is_named_by_keyspace_and_topic_under_the_state_dir() {
        assert_eq!(
            cut_file(Path::new("/s"), "userstream", "users"),
            Path::new("/s/data/verify/userstream.users.cut.json")
        );
    }

    #[test]
    fn a_saved_cut_loads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = cut_file(dir.path(), "userstream", "users");
        assert_eq!(load(&path, "users", "userstream"), Loaded::Absent);
        let cut = stored();
        save(&path, &cut).unwrap();
        assert_eq!(
            load(&path, "users", "userstream"),
            Loaded::Found(cut.clone())
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // Replaced whole, no partial file left behind.
        let mut newer = cut;
        newer.cut.partitions[0].high = 500;
        save(&path, &newer).unwrap();
        assert_eq!(load(&path, "users", "userstream"), Loaded::Found(newer));
        assert!(!path.with_extension("partial").exists());
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_unusable_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.json");
        let unusable = |text: &str| {
            fs::write(&path, text).unwrap();
            match load(&path, "users", "userstream") {
                Loaded::Unusable(why) => why,
                other => panic!("{text} loaded as {other:?}"),
            }
        };
        assert!(unusable("").contains("not a stored cut"));
        assert!(unusable("{\"version\": 1, \"topic\": \"us").contains("not a stored cut"));
        let good = serde_json::to_value(stored()).unwrap();
        let with = |key: &str, value: serde_json::Value| {
            let mut doc = good.clone();
            doc[key] = value;
            doc.to_string()
        };
        assert!(unusable(&with("version", 9.into())).contains("version 9"));
        assert!(unusable(&with("keyspace", "other".into())).contains("keyspace other"));
        let mut cut = good["cut"].clone();
        cut["partitions"][1]["low"] = 99.into();
        assert!(unusable(&with("cut", cut)).contains("impossible offsets 99..98"));
        let mut cut = good["cut"].clone();
        cut["partitions"][1]["partition"] = 0.into();
        assert!(unusable(&with("cut", cut)).contains("not in order"));
        assert!(unusable(&with("extra", true.into())).contains("not a stored cut"));
        // A directory where the file should be: unreadable, said so.
        let dir_path = dir.path().join("a-dir");
        fs::create_dir(&dir_path).unwrap();
        assert!(matches!(
            load(&dir_path, "users", "userstream"),
            Loaded::Unusable(why) if why.contains("cannot be read")
        ));
    }
}
