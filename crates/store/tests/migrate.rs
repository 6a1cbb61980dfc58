//! Migrations against the real Cassandra (at `USERSTREAM_CASSANDRA_PORT`, or
//! `USERSTREAM_CASSANDRA` for one elsewhere).
//! Unreachable: fail if `USERSTREAM_STACK_STARTED=1`, else print "skipped: ..." and pass.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, ensure};
use userstream_store::{migrate, Replication, MIGRATIONS};

#[tokio::test]
async fn migrate_is_versioned_and_idempotent() -> anyhow::Result<()> {
    let endpoints = userstream_endpoints::Endpoints::from_env();
    let admin = endpoints.cassandra_login(userstream_endpoints::CassandraRole::Admin);
    let contact = endpoints.cassandra;
    let session = match userstream_store::connect(
        &contact,
        admin.as_ref(),
        Duration::from_secs(10),
        &userstream_endpoints::stack_run_dir(&userstream_endpoints::state_dir_from_env()),
    )
    .await
    {
        Ok(s) => s,
        Err(e) if std::env::var("USERSTREAM_STACK_STARTED").as_deref() != Ok("1") => {
            let _ = writeln!(std::io::stderr(), "skipped: {e}");
            return Ok(());
        }
        Err(e) => bail!("{e} (USERSTREAM_STACK_STARTED=1: Cassandra must be up)"),
    };
    let keyspace = format!(
        "t_migrate_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let result = async {
        let first = migrate(&session, &keyspace, &Replication::default()).await?;
        ensure!(first.len() == MIGRATIONS.len(), "{first:?}");
        let second = migrate(&session, &keyspace, &Replication::default()).await?;
        ensure!(second.is_empty(), "nothing left to apply: {second:?}");
        ensure!(userstream_store::count_users(&session, &keyspace).await? == 0);
        ensure!(userstream_store::count_rejected(&session, &keyspace, None).await? == 0);
        let insert =
            format!("INSERT INTO {keyspace}.users (id, username, produced_at) VALUES (?, 'u', ?)");
        let id = uuid::Uuid::new_v4();
        session
            .query_unpaged(
                insert.as_str(),
                (id, userstream_store::CqlTimestamp(1_700_000_000_000)),
            )
            .await?;
        let rows = userstream_store::users_by_id(&session, &keyspace, &[id]).await?;
        ensure!(rows.len() == 1 && rows[0].username.as_deref() == Some("u"));
        let samples = userstream_store::latency_samples(&session, &keyspace).await?;
        ensure!(samples.len() == 1 && samples[0].write_time_micros.is_some());
        ensure!(userstream_store::user_ids(&session, &keyspace).await? == vec![id]);
        record_matches_the_live_table(&session, &keyspace).await
    }
    .await;
    let _ = session
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), &[])
        .await;
    result
}

/// The drift check against the real table: the columns Cassandra reports for a freshly
/// migrated `users` are the record's declared columns with their CQL types, the pure replay of
/// the migrations says the same, and the typed row passes scylla's type check on them.
async fn record_matches_the_live_table(
    session: &scylla::client::session::Session,
    keyspace: &str,
) -> anyhow::Result<()> {
    let rows = session
        .query_unpaged(
            "SELECT column_name, type FROM system_schema.columns \
             WHERE keyspace_name = ? AND table_name = ?",
            (keyspace, userstream_store::USERS_TABLE),
        )
        .await?
        .into_rows_result()?;
    let mut live: Vec<(String, String)> =
        rows.rows::<(String, String)>()?.collect::<Result<_, _>>()?;
    live.sort();
    let mut declared: Vec<(String, String)> = userstream_model::record::COLUMNS
        .iter()
        .map(|c| (c.name.to_owned(), c.kind.cql_type().to_owned()))
        .collect();
    declared.sort();
    ensure!(
        live == declared,
        "live users table {live:?}\n declared {declared:?}"
    );
    let mut replayed = userstream_store::users_table_columns().map_err(anyhow::Error::msg)?;
    replayed.sort();
    ensure!(
        replayed == live,
        "migrations replayed {replayed:?}\n live {live:?}"
    );
    userstream_store::check_users_row(&live).map_err(anyhow::Error::msg)?;
    Ok(())
}
