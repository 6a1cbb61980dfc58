//! Only the stack's user reads the state directory: it holds people's records (Cassandra's
//! and Kafka's data, Airflow task logs with field mismatches), passwords and tokens.
//!
//! Two guards: the `userstream` binary runs with umask 077 ([`restrict_new_files`]), so every
//! file it and the engines it starts create is private; and every `stack up` walks the state
//! tree ([`tighten_tree`]) to take group and other bits off anything made before (an older
//! version, a copy, an engine that chmods its own files).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Makes every file and directory this process (and any child it starts) creates from now
/// on private: mode bits for group and others are masked off (umask 077).
pub fn restrict_new_files() {
    use nix::sys::stat::{umask, Mode};
    umask(Mode::from_bits_truncate(0o077));
}

/// `mode` without the group and other bits; `None` when it has none to take off.
pub fn private_mode(mode: u32) -> Option<u32> {
    let permissions = mode & 0o7777;
    (permissions & 0o077 != 0).then_some(permissions & !0o077)
}

/// What [`tighten_tree`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tightened {
    /// Paths whose group/other bits were taken off.
    pub changed: Vec<PathBuf>,
    /// Paths seen.
    pub seen: usize,
}

/// Takes group and other bits off `root` and everything under it. Symbolic links are not
/// followed (their own mode means nothing on Linux); a path that vanishes while we walk (an
/// engine rotating a log) is skipped.
pub fn tighten_tree(root: &Path) -> io::Result<Tightened> {
    let mut done = Tightened::default();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        done.seen += 1;
        if let Some(mode) = private_mode(meta.permissions().mode()) {
            match fs::set_permissions(&path, fs::Permissions::from_mode(mode)) {
                Ok(()) => done.changed.push(path.clone()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        if meta.is_dir() {
            match fs::read_dir(&path) {
                Ok(entries) => {
                    for entry in entries {
                        pending.push(entry?.path());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_group_and_other_bits_are_taken_off() {
        assert_eq!(private_mode(0o100644), Some(0o600));
        assert_eq!(private_mode(0o40755), Some(0o700));
        assert_eq!(private_mode(0o664), Some(0o600));
        assert_eq!(private_mode(0o600), None);
        assert_eq!(private_mode(0o700), None);
        assert_eq!(private_mode(0o1777), Some(0o1700));
        assert_eq!(private_mode(0o400), None);
    }

    #[test]
    fn a_tree_made_open_is_made_private_and_links_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        fs::create_dir_all(root.join("logs/deep")).unwrap();
        fs::write(root.join("logs/deep/task.log"), "x").unwrap();
        fs::write(root.join("secrets.json"), "{}").unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, "y").unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        for (path, mode) in [
            (root.clone(), 0o755),
            (root.join("logs"), 0o775),
            (root.join("logs/deep"), 0o755),
            (root.join("logs/deep/task.log"), 0o664),
            (root.join("secrets.json"), 0o600),
        ] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }

        let done = tighten_tree(&root).unwrap();
        assert_eq!(done.seen, 5);
        assert_eq!(done.changed.len(), 4);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("logs/deep/task.log")), 0o600);
        assert_eq!(mode(&root.join("secrets.json")), 0o600);
        // The link's target is outside the tree: not ours to change.
        assert_eq!(mode(&outside), 0o644);
        // A second pass has nothing left to do.
        assert!(tighten_tree(&root).unwrap().changed.is_empty());
    }
}
