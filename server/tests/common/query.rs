//! A client of the query API for tests: ingest, flush, SQL, GET, health.

use super::Server;
use reqwest::StatusCode;
use serde_json::Value;

/// A tenant's view of a running server.
pub struct Api {
    http: reqwest::Client,
    base: String,
    tenant: String,
}

/// An answer: status, content type and body.
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: bytes::Bytes,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a 200 and returns self.
    pub fn ok(self) -> Self {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        self
    }
}

impl Api {
    /// Requests to `server` as `tenant`.
    pub fn new(server: &Server, tenant: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: server.base.clone(),
            tenant: tenant.to_string(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req
            .header("X-Scope-OrgID", &self.tenant)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Answer {
            status,
            content_type,
            body: resp.bytes().await.unwrap(),
        }
    }

    /// `POST /api/v1/ingest?QUERY` with `body`; must succeed.
    pub async fn ingest(&self, query: &str, body: impl Into<reqwest::Body>) {
        let url = format!("{}/api/v1/ingest?{query}", self.base);
        self.send(self.http.post(url).body(body)).await.ok();
    }

    /// `POST /api/v1/flush`: what was ingested becomes queryable.
    pub async fn flush(&self) {
        let url = format!("{}/api/v1/flush", self.base);
        self.send(self.http.post(url)).await.ok();
    }

    /// `POST /api/v1/sql` with `body` (SQL text or JSON) and extra query `params`.
    pub async fn sql_with(&self, body: &str, params: &str) -> Answer {
        let url = format!("{}/api/v1/sql{params}", self.base);
        self.send(self.http.post(url).body(body.to_string())).await
    }

    /// The JSON rows of `sql` (must succeed).
    pub async fn rows(&self, sql: &str) -> Vec<Value> {
        let a = self.sql_with(sql, "").await.ok();
        match a.json() {
            Value::Array(rows) => rows,
            other => panic!("not an array: {other}"),
        }
    }

    /// `GET PATH_AND_QUERY`.
    pub async fn get(&self, path_and_query: &str) -> Answer {
        self.send(self.http.get(format!("{}{path_and_query}", self.base)))
            .await
    }

    /// `POST PATH_AND_QUERY` without a body.
    #[allow(dead_code)]
    pub async fn post(&self, path_and_query: &str) -> Answer {
        self.send(self.http.post(format!("{}{path_and_query}", self.base)))
            .await
    }

    /// `POST PATH_AND_QUERY` with `body` of `content_type`.
    #[allow(dead_code)]
    pub async fn post_body(
        &self,
        path_and_query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let req = self
            .http
            .post(format!("{}{path_and_query}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.send(req).await
    }

    /// Asserts `/healthz` answers 200.
    pub async fn assert_healthy(&self) {
        let a = self.get("/healthz").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    }
}
