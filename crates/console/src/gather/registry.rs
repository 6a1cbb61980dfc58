use userstream_registry::RegistryClient;

use crate::model::{RegistryView, SubjectView};

/// Subjects; versions, compatibility and the latest schema of the pipeline's subject.
pub async fn registry(client: &RegistryClient, subject: &str) -> Result<RegistryView, String> {
    let subjects = client
        .subjects()
        .await
        .map_err(|e| format!("registry: {}", userstream_endpoints::error_chain(&e)))?;
    let pipeline_subject = if subjects.iter().any(|s| s == subject) {
        let versions = client
            .versions(subject)
            .await
            .map_err(|e| format!("registry: {}", userstream_endpoints::error_chain(&e)))?;
        let compatibility = client
            .get_compatibility(subject)
            .await
            .map_err(|e| format!("registry: {}", userstream_endpoints::error_chain(&e)))?;
        let latest = client
            .latest(subject)
            .await
            .map_err(|e| format!("registry: {}", userstream_endpoints::error_chain(&e)))?;
        let pretty = serde_json::from_str::<serde_json::Value>(&latest.schema)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or(latest.schema.clone());
        Some(SubjectView {
            name: subject.to_owned(),
            versions,
            compatibility: compatibility.map(|c| c.to_string()),
            latest_id: Some(latest.id.0),
            latest_schema: Some(pretty),
        })
    } else {
        None
    };
    Ok(RegistryView {
        url: client.base_url().to_string(),
        pipeline_subject,
        subjects,
    })
}
