//! The stack's lock: one command at a time changes a stack.

use std::fs;

use crate::error::{io_err, StackError};
use crate::Layout;

/// Holds the stack's lock file (`run/stack.lock`) until dropped: two `stack up` (or `up` and
/// `down`) at once would format Kafka's storage or migrate Airflow's database twice and
/// corrupt both. The second one waits and says so.
pub fn lock_stack(layout: &Layout) -> Result<fs::File, StackError> {
    let path = layout.run().join("stack.lock");
    fs::create_dir_all(layout.run()).map_err(io_err("create", &layout.run()))?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err("open", &path))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(fs::TryLockError::WouldBlock) => eprintln!(
            "another `userstream stack` command is changing this stack ({}); waiting for it to finish",
            layout.state().display()
        ),
        Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", &path)(e)),
    }
    file.lock().map_err(io_err("lock", &path))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().into(), dir.path().join("rt"), "/d".into());
        let held = lock_stack(&layout).unwrap();
        let other = fs::File::open(layout.run().join("stack.lock")).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
