//! `stack status`: every service's process, health, uptime and memory, and its table.

use std::path::PathBuf;
use std::time::Duration;

use futures::future::join_all;

use crate::error::StackError;
use crate::lifecycle::{http_client, specs};
use crate::{health, process, StackConfig};

/// One row of `stack status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceStatus {
    /// Service name.
    pub service: &'static str,
    /// Engine it belongs to.
    pub engine: &'static str,
    /// Pid when running.
    pub pid: Option<i32>,
    /// Ports it owns.
    pub ports: Vec<u16>,
    /// Health detail when healthy, error when not.
    pub health: Result<String, String>,
    /// Uptime in seconds.
    pub uptime_seconds: Option<u64>,
    /// Resident memory of its process group, bytes.
    pub rss_bytes: u64,
    /// Its log file.
    pub log: PathBuf,
}

impl ServiceStatus {
    /// True when running and healthy.
    pub fn healthy(&self) -> bool {
        self.pid.is_some() && self.health.is_ok()
    }
}

/// The state of every service, checked concurrently.
pub async fn status(config: &StackConfig) -> Result<Vec<ServiceStatus>, StackError> {
    let (layout, specs) = specs(config)?;
    let http = http_client();
    let rows = join_all(specs.iter().map(|spec| {
        let layout = &layout;
        let http = &http;
        async move {
            let record = process::running(&layout.pid_file(spec.name));
            let health = match record {
                Some(_) => health::check(&spec.health, http, &layout.run()).await,
                None => Err("not running".to_owned()),
            };
            ServiceStatus {
                service: spec.name,
                engine: spec.engine,
                pid: record.map(|r| r.pid),
                ports: spec.ports.clone(),
                health,
                uptime_seconds: record
                    .as_ref()
                    .and_then(process::uptime)
                    .map(|d| d.as_secs()),
                rss_bytes: record.map(|r| process::group_rss_bytes(r.pid)).unwrap_or(0),
                log: layout.log_file(spec.name),
            }
        }
    }))
    .await;
    Ok(rows)
}

/// Renders the status table.
pub fn render_status(rows: &[ServiceStatus]) -> String {
    let mut out = format!(
        "{:<22} {:>8}  {:<18} {:<8} {:>9} {:>9}  {}\n",
        "SERVICE", "PID", "PORTS", "HEALTHY", "UPTIME", "RSS", "DETAIL"
    );
    let mut total_rss = 0;
    for row in rows {
        total_rss += row.rss_bytes;
        let ports = row
            .ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let detail = match &row.health {
            Ok(d) => d.clone(),
            Err(e) => e.clone(),
        };
        out.push_str(&format!(
            "{:<22} {:>8}  {:<18} {:<8} {:>9} {:>9}  {}\n",
            row.service,
            row.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            if ports.is_empty() { "-".into() } else { ports },
            if row.healthy() { "yes" } else { "NO" },
            row.uptime_seconds
                .map(|s| humantime::format_duration(Duration::from_secs(s)).to_string())
                .unwrap_or_else(|| "-".into()),
            format_bytes(row.rss_bytes),
            truncate(&detail, 70),
        ));
    }
    out.push_str(&format!(
        "{} of {} healthy; total RSS {}\n",
        rows.iter().filter(|r| r.healthy()).count(),
        rows.len(),
        format_bytes(total_rss)
    ));
    out
}

fn truncate(text: &str, max: usize) -> String {
    let first_line = text.lines().next().unwrap_or("");
    if first_line.chars().count() <= max {
        first_line.to_owned()
    } else {
        let cut: String = first_line.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// `1536 MiB`-style rendering.
pub fn format_bytes(bytes: u64) -> String {
    if bytes == 0 {
        return "-".into();
    }
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_marks_unhealthy_rows_and_sums_memory() {
        let rows = vec![
            ServiceStatus {
                service: "kafka",
                engine: "Kafka",
                pid: Some(10),
                ports: vec![9092, 9093],
                health: Ok("1 broker".into()),
                uptime_seconds: Some(65),
                rss_bytes: 512 * 1024 * 1024,
                log: "/l/kafka.log".into(),
            },
            ServiceStatus {
                service: "registry",
                engine: "Schema Registry",
                pid: None,
                ports: vec![8081],
                health: Err("not running".into()),
                uptime_seconds: None,
                rss_bytes: 0,
                log: "/l/registry.log".into(),
            },
        ];
        let table = render_status(&rows);
        assert!(table.contains("kafka"));
        assert!(table.contains("9092,9093"));
        assert!(table.contains("1m 5s"));
        assert!(table.contains("NO"));
        assert!(table.contains("1 of 2 healthy; total RSS 512 MiB"));
    }
}
