//! Files the job keeps beside its checkpoints (journal, state, learned schema ids, the
//! supervisor's memory) are created 0600 whatever the process's umask: they sit in the stack's
//! state directory, which only the stack's user may read (the `userstream` binary also sets
//! umask 077; a program that links this crate may not).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` for appending, creating it with mode 0600.
pub fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Creates or truncates `path` (new files mode 0600) and writes `contents`.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_files_are_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let (written, appended) = (dir.path().join("w"), dir.path().join("a"));
        write(&written, "x").unwrap();
        write(&written, "yz").unwrap();
        writeln!(append(&appended).unwrap(), "line").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&written), 0o600);
        assert_eq!(mode(&appended), 0o600);
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "yz");
    }
}
