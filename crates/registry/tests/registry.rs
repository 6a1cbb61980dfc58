//! Against a real schema registry (Confluent API; Apicurio's `ccompat` here).
//!
//! The registry of the stack at `USERSTREAM_REGISTRY_PORT` (or `USERSTREAM_REGISTRY_URL` for one
//! elsewhere). When the
//! registry cannot be reached: fail if `USERSTREAM_STACK_STARTED=1` (the test command started
//! the stack, so it must be there), otherwise print a "skipped" line and pass.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use apache_avro::types::Value;
use apache_avro::Schema;
use chrono::{TimeZone, Utc};
use userstream_model::{user_schema, User, USER_SCHEMA_JSON};
use userstream_registry::{
    decode_framed, CompatibilityLevel, Deserializer, RegistryClient, RegistryError, SchemaId,
    Serializer,
};

/// A client for the registry under test, or `None` (after saying so) when it is not there and
/// the stack was not started by the test command.
async fn registry() -> anyhow::Result<Option<RegistryClient>> {
    let url = userstream_endpoints::Endpoints::from_env().registry_url;
    let client = RegistryClient::new(
        url.clone(),
        admin().as_ref(),
        Duration::from_secs(10),
        &userstream_endpoints::stack_run_dir(&userstream_endpoints::state_dir_from_env()),
    )?;
    match client.subjects().await {
        Ok(_) => Ok(Some(client)),
        Err(e)
            if e.is_unreachable()
                && std::env::var("USERSTREAM_STACK_STARTED").as_deref() != Ok("1") =>
        {
            // Straight to stderr: libtest captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: registry not reachable at {url} ({:#})",
                anyhow::Error::new(e)
            );
            Ok(None)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "schema registry at {url} (USERSTREAM_STACK_STARTED=1: it must be up)"
        ))),
    }
}

/// A subject no other test (or run) uses.
fn subject(test: &str) -> String {
    format!("userstream-test-{test}-{}", uuid::Uuid::new_v4())
}

/// Soft then permanent delete, best effort: subjects are unique, so a leftover is harmless.
async fn cleanup(client: &RegistryClient, subject: &str) {
    let _ = client.delete_subject(subject, false).await;
    let _ = client.delete_subject(subject, true).await;
}

/// The embedded schema plus one field.
fn with_extra_field(field: serde_json::Value) -> anyhow::Result<String> {
    let mut doc: serde_json::Value = serde_json::from_str(USER_SCHEMA_JSON)?;
    doc["fields"].as_array_mut().context("fields")?.push(field);
    Ok(doc.to_string())
}

fn canonical(schema: &str) -> anyhow::Result<String> {
    Ok(Schema::parse_str(schema)?.canonical_form())
}

/// The registry's admin user (the tests set compatibility and delete their subjects).
fn admin() -> Option<userstream_endpoints::Login> {
    userstream_endpoints::Endpoints::from_env()
        .registry_login(userstream_endpoints::RegistryRole::Admin)
}

fn fresh(client: &RegistryClient) -> anyhow::Result<RegistryClient> {
    Ok(RegistryClient::new(
        client.base_url().clone(),
        admin().as_ref(),
        Duration::from_secs(10),
        &userstream_endpoints::stack_run_dir(&userstream_endpoints::state_dir_from_env()),
    )?)
}

fn sample_user() -> anyhow::Result<User> {
    let at = |ms: i64| Utc.timestamp_millis_opt(ms).single().context("timestamp");
    Ok(User {
        id: uuid::Uuid::parse_str("7a0eed16-9430-4d68-901f-c0d4c1c3bf00")?,
        title: Some("Mr".to_owned()),
        first_name: Some("آرمین".to_owned()),
        last_name: Some("Вакуленко".to_owned()),
        gender: Some("male".to_owned()),
        street_number: Some(5361),
        street_name: Some("Valwood Pkwy".to_owned()),
        city: Some("Billings".to_owned()),
        state: Some("Michigan".to_owned()),
        country: Some("United States".to_owned()),
        postcode: Some("-4873".to_owned()),
        display_address: Some(
            "5361 Valwood Pkwy, Billings, Michigan -4873, United States".to_owned(),
        ),
        latitude: Some(-69.8246),
        longitude: Some(134.8719),
        timezone_offset: Some("+5:30".to_owned()),
        timezone_description: Some("Bombay, Calcutta, Madras, New Delhi".to_owned()),
        email: Some("armin@example.com".to_owned()),
        username: "yellowpeacock117".to_owned(),
        dob: Some(at(700_067_596_688)?),
        registered: None,
        phone: Some("(272) 790-0888".to_owned()),
        cell: None,
        id_name: None,
        id_value: None,
        picture_url: Some("https://randomuser.me/api/portraits/men/75.jpg".to_owned()),
        nationality: Some("IR".to_owned()),
        produced_at: at(1_717_000_000_123)?,
        source_url: "https://randomuser.me/api/?results=10&seed=abc&page=1".to_owned(),
        source_seed: "abc".to_owned(),
        source_page: 1,
        source_index: 0,
    })
}

#[tokio::test]
async fn register_latest_and_by_id_round_trip() -> anyhow::Result<()> {
    let Some(client) = registry().await? else {
        return Ok(());
    };
    let subject = subject("roundtrip");
    let id = client.register(&subject, USER_SCHEMA_JSON).await?;

    let latest = client.latest(&subject).await?;
    ensure!(
        latest.id == id,
        "latest id {} != registered {id}",
        latest.id
    );
    ensure!(latest.version == 1, "version {}", latest.version);
    ensure!(latest.subject == subject);
    ensure!(canonical(&latest.schema)? == user_schema().canonical_form());

    // A fresh client has an empty cache: this really asks the registry.
    let by_id = fresh(&client)?.schema_by_id(id).await?;
    ensure!(canonical(&by_id)? == user_schema().canonical_form());

    ensure!(client.versions(&subject).await? == [1]);
    ensure!(client.subjects().await?.contains(&subject));
    let found = fresh(&client)?.lookup(&subject, USER_SCHEMA_JSON).await?;
    ensure!(found.id == id && found.version == 1);

    cleanup(&client, &subject).await;
    Ok(())
}

#[tokio::test]
async fn registering_twice_gives_the_same_id() -> anyhow::Result<()> {
    let Some(client) = registry().await? else {
        return Ok(());
    };
    let subject = subject("twice");
    let first = client.register(&subject, USER_SCHEMA_JSON).await?;
    // Separate clients, so the second answer comes from the registry, not the cache.
    let second = fresh(&client)?.register(&subject, USER_SCHEMA_JSON).await?;
    ensure!(first == second, "{first} != {second}");
    ensure!(client.versions(&subject).await? == [1], "no second version");
    cleanup(&client, &subject).await;
    Ok(())
}

#[tokio::test]
async fn backward_refuses_a_required_field_without_default() -> anyhow::Result<()> {
    let Some(client) = registry().await? else {
        return Ok(());
    };
    let subject = subject("incompatible");
    client.register(&subject, USER_SCHEMA_JSON).await?;
    let level = client
        .set_compatibility(&subject, CompatibilityLevel::Backward)
        .await?;
    ensure!(
        level == CompatibilityLevel::Backward,
        "set answered {level}"
    );
    ensure!(client.get_compatibility(&subject).await? == Some(CompatibilityLevel::Backward));

    let breaking = with_extra_field(serde_json::json!({"name": "age", "type": "int"}))?;
    let check = client.check_compatibility(&subject, &breaking).await?;
    ensure!(!check.is_compatible, "check said compatible: {check:?}");

    match client.register(&subject, &breaking).await {
        Err(RegistryError::Incompatible {
            subject: refused,
            error_code,
            message,
            ..
        }) => {
            ensure!(refused == subject);
            ensure!(error_code == 409, "error_code {error_code}");
            ensure!(!message.is_empty(), "the registry's reason is carried");
            let _ = writeln!(std::io::stderr(), "registry's reason: {message}");
        }
        Err(other) => bail!("expected Incompatible, got {other:?}"),
        Ok(id) => bail!("breaking schema was registered as {id}"),
    }
    ensure!(client.versions(&subject).await? == [1], "nothing was added");
    cleanup(&client, &subject).await;
    Ok(())
}

#[tokio::test]
async fn backward_accepts_a_nullable_field_with_default() -> anyhow::Result<()> {
    let Some(client) = registry().await? else {
        return Ok(());
    };
    let subject = subject("compatible");
    let v1 = client.register(&subject, USER_SCHEMA_JSON).await?;
    client
        .set_compatibility(&subject, CompatibilityLevel::Backward)
        .await?;
    let evolved = with_extra_field(
        serde_json::json!({"name": "age", "type": ["null", "int"], "default": null}),
    )?;
    let check = client.check_compatibility(&subject, &evolved).await?;
    ensure!(check.is_compatible, "check said incompatible: {check:?}");
    let v2 = client.register(&subject, &evolved).await?;
    ensure!(v2 != v1, "a new schema gets a new id");
    ensure!(client.versions(&subject).await? == [1, 2]);
    let latest = client.latest(&subject).await?;
    ensure!(latest.version == 2 && latest.id == v2);
    cleanup(&client, &subject).await;
    Ok(())
}

#[tokio::test]
async fn serializer_deserializer_round_trip() -> anyhow::Result<()> {
    let Some(client) = registry().await? else {
        return Ok(());
    };
    let subject = subject("serde");
    let user = sample_user()?;

    let serializer = Serializer::register(&client, &subject).await?;
    ensure!(serializer.subject() == subject);
    let framed = serializer.serialize(&user)?;
    let (id, _) = decode_framed(&framed)?;
    ensure!(SchemaId(id) == serializer.schema_id());
    ensure!(framed[0] == 0, "magic byte");

    // A deserializer with its own (empty) cache fetches the writer schema by id.
    let deserializer = Deserializer::new(fresh(&client)?);
    ensure!(deserializer.deserialize(&framed).await? == user);
    ensure!(
        deserializer.deserialize(&framed).await? == user,
        "cached path"
    );

    // Data from a newer producer (one more field) still reads as a User.
    let evolved = with_extra_field(
        serde_json::json!({"name": "age", "type": ["null", "int"], "default": null}),
    )?;
    let evolved_id = client.register(&subject, &evolved).await?;
    let Value::Record(mut fields) = user.to_avro_value() else {
        bail!("not a record");
    };
    fields.push(("age".to_owned(), Value::Union(1, Box::new(Value::Int(33)))));
    let avro = apache_avro::to_avro_datum(&Schema::parse_str(&evolved)?, Value::Record(fields))?;
    let newer = userstream_registry::encode_framed(evolved_id.0, &avro);
    ensure!(deserializer.deserialize(&newer).await? == user);

    cleanup(&client, &subject).await;
    Ok(())
}

#[tokio::test]
async fn unknown_id_is_not_found() -> anyhow::Result<()> {
    let Some(client) = registry().await? else {
        return Ok(());
    };
    let err = client
        .schema_by_id(SchemaId(i32::MAX as u32))
        .await
        .expect_err("no such id");
    ensure!(err.is_not_found(), "{err:?}");
    ensure!(!err.is_retryable());
    Ok(())
}
