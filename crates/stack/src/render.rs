//! `stack render`: what the stack runs for one service, written into a directory, secrets
//! withheld.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{io_err, StackError};
use crate::lifecycle::{find_spec, specs_with};
use crate::secrets::Secrets;
use crate::StackConfig;

/// What `stack render` wrote for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
    /// Environment variables left out because they hold secrets: whoever runs the service
    /// provides them at run time (never baked into a file or an image).
    pub withheld: Vec<String>,
}

/// Writes what the stack would run for `service` into `out`: its configuration files (by
/// their file names), `argv` (program and arguments, one per line), `env` (`KEY=VALUE` per
/// line, secrets left out) and `cwd`. The same code renders them for `stack up`, so anything
/// that runs the service from these files (an image, a unit file) runs what the local stack
/// runs.
pub fn render_service(
    config: &StackConfig,
    service: &str,
    out: &Path,
) -> Result<Rendered, StackError> {
    let withheld_secrets = Secrets::withheld();
    let (_, specs) = specs_with(config, &withheld_secrets)?;
    let spec = find_spec(&specs, service)?;
    fs::create_dir_all(out).map_err(io_err("create", out))?;
    let mut files = Vec::new();
    let mut write = |name: &str, content: &str| -> Result<(), StackError> {
        let path = out.join(name);
        fs::write(&path, content).map_err(io_err("write", &path))?;
        files.push(path);
        Ok(())
    };
    for (path, content) in &spec.files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        write(&name, content)?;
    }
    let argv = std::iter::once(spec.program.display().to_string())
        .chain(spec.args.iter().cloned())
        .map(|arg| arg + "\n")
        .collect::<String>();
    write("argv", &argv)?;
    let secret_values = withheld_secrets.values();
    let mut withheld = Vec::new();
    let mut env = String::new();
    for (key, value) in &spec.env {
        // A value holding a secret anywhere (a JAAS line) is left out whole.
        if secret_values.iter().any(|secret| value.contains(secret)) {
            withheld.push(key.clone());
        } else {
            env.push_str(&format!("{key}={value}\n"));
        }
    }
    write("env", &env)?;
    write("cwd", &format!("{}\n", spec.cwd.display()))?;
    Ok(Rendered { files, withheld })
}
