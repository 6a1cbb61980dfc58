//! The Spark Connect calls spark-connect-rs 0.0.2 gets wrong or lacks, made directly with
//! tonic over the crate's generated protobuf types: streaming-query commands whose crate
//! wrappers panic (`last_progress`/`recent_progress` before the first batch, `active` on a
//! query without id) and lookups of queries by name.

use std::time::Duration;

use spark_connect_rs::plan::LogicalPlanBuilder;
use spark_connect_rs::spark;
use spark_connect_rs::spark::spark_connect_service_client::SparkConnectServiceClient;
use spark_connect_rs::spark::streaming_query_command::Command as QueryCommand;
use spark_connect_rs::spark::streaming_query_command_result::{
    ExceptionResult, ResultType as QueryResult, StatusResult,
};
use spark_connect_rs::spark::streaming_query_manager_command::Command as ManagerCommand;
use spark_connect_rs::spark::streaming_query_manager_command_result::ResultType as ManagerResult;
use tonic::transport::{Channel, Endpoint};

use crate::{SparkError, SparkJob};

/// A query as the server lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveQuery {
    /// Its name, when it has one.
    pub name: Option<String>,
    /// Its query and run ids.
    pub id: spark::StreamingQueryInstanceId,
}

/// A raw Spark Connect client bound to the job's session.
#[derive(Debug, Clone)]
pub struct Rpc {
    client: SparkConnectServiceClient<Channel>,
    session_id: String,
    user_id: String,
    url: String,
    timeout: Duration,
    /// `Bearer <token>` for the server's interceptor, when the stack has a token.
    authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    /// The job, to check who holds the server's port before each call: the channel
    /// reconnects by itself after the server restarts.
    job: SparkJob,
}

impl Rpc {
    /// A client of `job`'s session (the channel is opened here; requests time out after the
    /// job's request timeout).
    pub async fn connect(job: &SparkJob) -> Result<Self, SparkError> {
        job.check_connect_listener()?;
        let (host, port) = job.connect_endpoint()?;
        let endpoint = format!("http://{host}:{port}");
        let connect_error = |reason: String| SparkError::Connect {
            url: job.connect_url.clone(),
            reason,
        };
        let channel = Endpoint::from_shared(endpoint)
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(job.request_timeout)
            .connect()
            .await
            .map_err(|e| connect_error(userstream_endpoints::error_chain(&e)))?;
        Ok(Self {
            client: SparkConnectServiceClient::new(channel),
            session_id: job.session_id().to_string(),
            user_id: job.connect_user.clone(),
            url: job.connect_url.clone(),
            timeout: job.request_timeout,
            authorization: match &job.connect_token {
                Some(token) => Some(format!("Bearer {token}").parse().map_err(|_| {
                    SparkError::Config(vec![
                        "the Spark Connect token is not a valid header value".into()
                    ])
                })?),
                None => None,
            },
            job: job.clone(),
        })
    }

    /// `message` as a request carrying the token.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        request
    }

    /// Runs one command and returns every response of its stream.
    async fn execute(
        &mut self,
        command: spark::command::CommandType,
        timeout: Duration,
    ) -> Result<Vec<spark::ExecutePlanResponse>, SparkError> {
        let request = spark::ExecutePlanRequest {
            session_id: self.session_id.clone(),
            user_context: Some(spark::UserContext {
                user_id: self.user_id.clone(),
                user_name: self.user_id.clone(),
                extensions: vec![],
            }),
            operation_id: Some(uuid::Uuid::new_v4().to_string()),
            plan: Some(LogicalPlanBuilder::plan_cmd(command)),
            client_type: Some("userstream".to_owned()),
            request_options: vec![],
            tags: vec![],
        };
        let url = self.url.clone();
        self.job.check_connect_listener()?;
        let request = self.request(request);
        let call = async {
            let mut stream = self.client.execute_plan(request).await?.into_inner();
            let mut responses = Vec::new();
            while let Some(response) = stream.message().await? {
                responses.push(response);
            }
            Ok::<_, tonic::Status>(responses)
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(responses)) => Ok(responses),
            Ok(Err(status)) => Err(SparkError::from_status(&url, &status)),
            Err(_) => Err(SparkError::Connect {
                url,
                reason: format!("no answer within {timeout:?}"),
            }),
        }
    }

    /// The session's active queries.
    pub async fn active(&mut self) -> Result<Vec<ActiveQuery>, SparkError> {
        let command = spark::command::CommandType::StreamingQueryManagerCommand(
            spark::StreamingQueryManagerCommand {
                command: Some(ManagerCommand::Active(true)),
            },
        );
        let timeout = self.timeout;
        for response in self.execute(command, timeout).await? {
            if let Some(
                spark::execute_plan_response::ResponseType::StreamingQueryManagerCommandResult(
                    result,
                ),
            ) = response.response_type
            {
                if let Some(ManagerResult::Active(active)) = result.result_type {
                    return Ok(active
                        .active_queries
                        .into_iter()
                        .filter_map(|q| {
                            Some(ActiveQuery {
                                name: q.name,
                                id: q.id?,
                            })
                        })
                        .collect());
                }
            }
        }
        Err(SparkError::Protocol(
            "no answer to StreamingQueryManagerCommand.active".into(),
        ))
    }

    /// The active query called `name`, if any.
    pub async fn find(&mut self, name: &str) -> Result<Option<ActiveQuery>, SparkError> {
        Ok(self
            .active()
            .await?
            .into_iter()
            .find(|q| q.name.as_deref() == Some(name)))
    }

    async fn query_command(
        &mut self,
        id: &spark::StreamingQueryInstanceId,
        command: QueryCommand,
        timeout: Duration,
    ) -> Result<Option<QueryResult>, SparkError> {
        let command =
            spark::command::CommandType::StreamingQueryCommand(spark::StreamingQueryCommand {
                query_id: Some(id.clone()),
                command: Some(command),
            });
        for response in self.execute(command, timeout).await? {
            if let Some(spark::execute_plan_response::ResponseType::StreamingQueryCommandResult(
                result,
            )) = response.response_type
            {
                return Ok(result.result_type);
            }
        }
        Ok(None)
    }

    /// The query's status (active, trigger running, Spark's message).
    pub async fn status(
        &mut self,
        id: &spark::StreamingQueryInstanceId,
    ) -> Result<StatusResult, SparkError> {
        let timeout = self.timeout;
        match self
            .query_command(id, QueryCommand::Status(true), timeout)
            .await?
        {
            Some(QueryResult::Status(status)) => Ok(status),
            other => Err(SparkError::Protocol(format!("status answered {other:?}"))),
        }
    }

    /// The newest progress report (JSON); `None` before the first batch finished (where
    /// the crate's `last_progress` panics). One report, not the server's whole history:
    /// the server serializes each report it sends, and status is polled often.
    pub async fn last_progress(
        &mut self,
        id: &spark::StreamingQueryInstanceId,
    ) -> Result<Option<String>, SparkError> {
        let timeout = self.timeout;
        match self
            .query_command(id, QueryCommand::LastProgress(true), timeout)
            .await?
        {
            // The server answers `lastProgress` with a list of zero or one report.
            Some(QueryResult::RecentProgress(p)) => Ok(p.recent_progress_json.into_iter().last()),
            other => Err(SparkError::Protocol(format!(
                "lastProgress answered {other:?}"
            ))),
        }
    }

    /// The exception that ended the query, if it failed.
    pub async fn exception(
        &mut self,
        id: &spark::StreamingQueryInstanceId,
    ) -> Result<Option<String>, SparkError> {
        let timeout = self.timeout;
        match self
            .query_command(id, QueryCommand::Exception(true), timeout)
            .await?
        {
            Some(QueryResult::Exception(ExceptionResult {
                exception_message: Some(message),
                error_class,
                ..
            })) => Ok(Some(match error_class {
                Some(class) => format!("{message} [{class}]"),
                None => message,
            })),
            _ => Ok(None),
        }
    }

    /// Stops the query; returns when it has stopped (Spark waits for the running batch).
    pub async fn stop(&mut self, id: &spark::StreamingQueryInstanceId) -> Result<(), SparkError> {
        // A batch in flight must finish first.
        let timeout = self.timeout.max(Duration::from_secs(120));
        self.query_command(id, QueryCommand::Stop(true), timeout)
            .await?;
        Ok(())
    }

    /// Sets a session SQL conf.
    pub async fn set_conf(&mut self, key: &str, value: &str) -> Result<(), SparkError> {
        let request = spark::ConfigRequest {
            session_id: self.session_id.clone(),
            user_context: Some(spark::UserContext {
                user_id: self.user_id.clone(),
                user_name: self.user_id.clone(),
                extensions: vec![],
            }),
            client_type: Some("userstream".to_owned()),
            operation: Some(spark::config_request::Operation {
                op_type: Some(spark::config_request::operation::OpType::Set(
                    spark::config_request::Set {
                        pairs: vec![spark::KeyValue {
                            key: key.to_owned(),
                            value: Some(value.to_owned()),
                        }],
                    },
                )),
            }),
        };
        let url = self.url.clone();
        self.job.check_connect_listener()?;
        let request = self.request(request);
        match tokio::time::timeout(self.timeout, self.client.config(request)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(status)) => Err(SparkError::from_status(&url, &status)),
            Err(_) => Err(SparkError::Connect {
                url,
                reason: "no answer to a config request".into(),
            }),
        }
    }
}
