//! Which object store holds the blocks, and building it from settings.
//!
//! [`ObjectStoreConfig`] is plain data (the server wraps it in clap); [`build`] turns it into
//! an `Arc<dyn ObjectStore>` plus the root [`Path`] every block path is built below
//! ([`crate::PartitionKey::path`]):
//!
//! ```text
//! ObjectStoreConfig --build--> (Arc<dyn ObjectStore>, root)
//!   kind = Local   LocalFileSystem on `local_dir` (created if missing), writes fsynced
//!                  ([`crate::durable_local`])
//!   kind = Memory  InMemory (tests, throw-away runs)
//!   kind = S3      AmazonS3 on `s3.bucket`, any S3-compatible endpoint
//!   prefix         the root: keys live below it inside the directory or bucket
//! ```
//!
//! Transient failures of HTTP stores (S3) are retried by object_store itself: a request
//! that times out, fails to connect or gets a 5xx (or S3's `SlowDown`/`InternalError`) is
//! retried up to [`RetrySettings::max_retries`] times with exponential backoff and jitter
//! between [`RetrySettings::initial_backoff`] and [`RetrySettings::max_backoff`], and not
//! after [`RetrySettings::timeout`] from the first attempt. Only the final failure reaches
//! the caller, as [`Error::ObjectStore`]. Local and in-memory stores do not retry.
//!
//! Create-only puts (`PutMode::Create`, used for `meta.json`) work on every kind: S3 sends
//! `If-None-Match: *` (object_store's `S3ConditionalPut::ETagMatch`, which S3, MinIO, R2 and
//! moto honour) and a second create fails with `AlreadyExists`.

use crate::{Error, Result};
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The kind of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// A local directory ([`ObjectStoreConfig::local_dir`]). The default.
    #[default]
    Local,
    /// In memory: lost when the process exits.
    Memory,
    /// An S3 or S3-compatible bucket ([`ObjectStoreConfig::s3`]).
    S3,
}

impl FromStr for StoreKind {
    type Err = Error;

    /// `local` (or `file`), `memory`, `s3`; case-insensitive.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" | "file" => Ok(StoreKind::Local),
            "memory" => Ok(StoreKind::Memory),
            "s3" => Ok(StoreKind::S3),
            _ => Err(config_error(format!(
                "unknown store kind {s:?}: use local, memory or s3"
            ))),
        }
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreKind::Local => "local",
            StoreKind::Memory => "memory",
            StoreKind::S3 => "s3",
        })
    }
}

/// Settings of an S3 or S3-compatible store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint URL (`http://127.0.0.1:9000`); `None` for AWS itself.
    pub endpoint: Option<String>,
    /// Bucket name (required).
    pub bucket: String,
    /// Region. Default `us-east-1`.
    pub region: String,
    /// Access key id; `None` to use the instance, container or web-identity credentials.
    pub access_key_id: Option<String>,
    /// Secret access key; given exactly when `access_key_id` is.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Allow a plain `http://` endpoint. Default false.
    pub allow_http: bool,
    /// Virtual-hosted-style requests (`bucket.endpoint/key`) instead of path style
    /// (`endpoint/bucket/key`). Default false: path style, what MinIO and moto expect.
    pub virtual_hosted_style: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: None,
            bucket: String::new(),
            region: "us-east-1".to_string(),
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            allow_http: false,
            virtual_hosted_style: false,
        }
    }
}

/// How object_store retries transient failures of HTTP stores (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Most retries of one request; 0 disables retrying. Default 10.
    pub max_retries: usize,
    /// Wait before the first retry; doubles per retry, with jitter. Default 100 ms.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts. Default 15 s.
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt. Default 3 min.
    pub timeout: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            timeout: Duration::from_secs(180),
        }
    }
}

impl RetrySettings {
    /// object_store's retry configuration for these settings.
    pub fn to_retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.initial_backoff,
                max_backoff: self.max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.timeout,
        }
    }
}

/// Where the store keeps its objects. The default is the local directory `./data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStoreConfig {
    /// The kind of store. Default [`StoreKind::Local`].
    pub kind: StoreKind,
    /// Directory of a local store, created if missing. Default `./data`.
    pub local_dir: PathBuf,
    /// S3 settings, used when `kind` is [`StoreKind::S3`].
    pub s3: S3Config,
    /// Key prefix inside the directory or bucket (`flamedb/prod`); empty for none.
    pub prefix: String,
    /// Retries of HTTP stores.
    pub retry: RetrySettings,
}

impl Default for ObjectStoreConfig {
    fn default() -> Self {
        ObjectStoreConfig {
            kind: StoreKind::Local,
            local_dir: PathBuf::from("./data"),
            s3: S3Config::default(),
            prefix: String::new(),
            retry: RetrySettings::default(),
        }
    }
}

impl ObjectStoreConfig {
    /// A config from a location: `memory`, `s3://BUCKET[/PREFIX]`, `file:///DIR` or a
    /// plain directory path. Other settings keep their defaults.
    pub fn from_url(url: &str) -> Result<Self> {
        let mut c = ObjectStoreConfig::default();
        if url == "memory" || url == "memory://" {
            c.kind = StoreKind::Memory;
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            c.kind = StoreKind::S3;
            c.s3.bucket = bucket.to_string();
            c.prefix = prefix.to_string();
        } else if let Some(dir) = url.strip_prefix("file://") {
            if dir.is_empty() {
                return Err(config_error("file:// needs a directory"));
            }
            c.local_dir = PathBuf::from(dir);
        } else if url.contains("://") {
            return Err(config_error(format!(
                "unsupported store URL {url:?}: use a directory, file://DIR, memory or s3://BUCKET[/PREFIX]"
            )));
        } else if url.is_empty() {
            return Err(config_error("empty store location"));
        } else {
            c.local_dir = PathBuf::from(url);
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the settings without touching the store; the error says what to fix.
    pub fn validate(&self) -> Result<()> {
        root_path(&self.prefix)?;
        let r = &self.retry;
        if r.initial_backoff > r.max_backoff {
            return Err(config_error(format!(
                "retry initial backoff {:?} is longer than the max backoff {:?}",
                r.initial_backoff, r.max_backoff
            )));
        }
        match self.kind {
            StoreKind::Local if self.local_dir.as_os_str().is_empty() => {
                Err(config_error("the local store needs a directory"))
            }
            StoreKind::Local | StoreKind::Memory => Ok(()),
            StoreKind::S3 => self.s3.validate(),
        }
    }
}

impl S3Config {
    /// Checks the S3 settings (see [`ObjectStoreConfig::validate`]).
    pub fn validate(&self) -> Result<()> {
        check_bucket(&self.bucket)?;
        if self.region.trim().is_empty() {
            return Err(config_error(
                "S3 needs a region (us-east-1 for most others)",
            ));
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(_), None) => {
                return Err(config_error("S3 access key id given without a secret key"));
            }
            (None, Some(_)) => {
                return Err(config_error("S3 secret key given without an access key id"));
            }
            _ => {}
        }
        if self.session_token.is_some() && self.access_key_id.is_none() {
            return Err(config_error(
                "S3 session token given without an access key id and secret key",
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            if endpoint.starts_with("http://") {
                if !self.allow_http {
                    return Err(config_error(format!(
                        "S3 endpoint {endpoint} is plain http: allow http to use it"
                    )));
                }
            } else if !endpoint.starts_with("https://") {
                return Err(config_error(format!(
                    "S3 endpoint {endpoint:?} must start with http:// or https://"
                )));
            }
        }
        Ok(())
    }
}

/// S3 bucket naming rules: 3 to 63 lower-case letters, digits, `.` and `-`, starting and
/// ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<()> {
    if bucket.is_empty() {
        return Err(config_error("S3 needs a bucket"));
    }
    let b = bucket.as_bytes();
    let ok_chars = b
        .iter()
        .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    let ends = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !(3..=63).contains(&b.len()) || !ok_chars || !ends(b[0]) || !ends(b[b.len() - 1]) {
        return Err(config_error(format!(
            "S3 bucket name {bucket:?} is not valid: 3 to 63 lower-case letters, digits, '.' and '-', \
             starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

/// The root path of a key prefix (`/a/b/` and `a/b` are the same prefix).
fn root_path(prefix: &str) -> Result<Path> {
    let trimmed = prefix.trim_matches('/');
    Path::parse(trimmed).map_err(|e| config_error(format!("key prefix {prefix:?}: {e}")))
}

fn config_error(message: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("object store config: {message}"))
}

/// Builds the store of `config` and returns it with the root path that block paths go
/// below. A local directory is created if missing. Nothing is sent to an S3 endpoint here:
/// a wrong endpoint or missing bucket shows on the first request.
pub fn build(config: &ObjectStoreConfig) -> Result<(Arc<dyn ObjectStore>, Path)> {
    config.validate()?;
    let root = root_path(&config.prefix)?;
    let store: Arc<dyn ObjectStore> = match config.kind {
        StoreKind::Memory => Arc::new(InMemory::new()),
        StoreKind::Local => {
            let dir = &config.local_dir;
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            // Writes are synced to disk before they return (the WAL is truncated once a
            // block is written); cleanup removes directories left empty by a delete (up
            // to, not including, `dir`), so a listing of a compacted-away block or
            // partition is empty as on S3.
            Arc::new(crate::durable_local::DurableLocal::new(dir)?)
        }
        StoreKind::S3 => Arc::new(s3_builder(&config.s3, &config.retry).build()?),
    };
    Ok((store, root))
}

fn s3_builder(s3: &S3Config, retry: &RetrySettings) -> AmazonS3Builder {
    // `new`, not `from_env`: only these settings count, so a stray AWS_* variable cannot
    // redirect the store. Credentials left out fall back to object_store's chain
    // (web identity, container, instance metadata).
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_allow_http(s3.allow_http)
        .with_virtual_hosted_style_request(s3.virtual_hosted_style)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_retry(retry.to_retry_config());
    if let Some(endpoint) = &s3.endpoint {
        b = b.with_endpoint(endpoint);
    }
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        b = b.with_access_key_id(id).with_secret_access_key(secret);
    }
    if let Some(token) = &s3.session_token {
        b = b.with_token(token);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str) -> ObjectStoreConfig {
        ObjectStoreConfig {
            kind: StoreKind::S3,
            s3: S3Config {
                bucket: bucket.to_string(),
                ..S3Config::default()
            },
            ..ObjectStoreConfig::default()
        }
    }

    fn err(c: &ObjectStoreConfig) -> String {
        c.validate()
            .expect_err("config must be rejected")
            .to_string()
    }

    #[test]
    fn default_is_a_local_data_directory() {
        let c = ObjectStoreConfig::default();
        assert_eq!(c.kind, StoreKind::Local);
        assert_eq!(c.local_dir, PathBuf::from("./data"));
        assert_eq!(c.prefix, "");
        assert_eq!(c.retry.max_retries, 10);
        c.validate().unwrap();
    }

    #[test]
    fn kinds_parse() {
        assert_eq!("LOCAL".parse::<StoreKind>().unwrap(), StoreKind::Local);
        assert_eq!("file".parse::<StoreKind>().unwrap(), StoreKind::Local);
        assert_eq!("memory".parse::<StoreKind>().unwrap(), StoreKind::Memory);
        assert_eq!(" s3 ".parse::<StoreKind>().unwrap(), StoreKind::S3);
        let e = "gcs".parse::<StoreKind>().unwrap_err().to_string();
        assert!(e.contains("use local, memory or s3"), "{e}");
        assert_eq!(StoreKind::S3.to_string(), "s3");
    }

    #[test]
    fn urls_parse() {
        let m = ObjectStoreConfig::from_url("memory").unwrap();
        assert_eq!(m.kind, StoreKind::Memory);

        let s = ObjectStoreConfig::from_url("s3://profiles/flamedb/prod").unwrap();
        assert_eq!(s.kind, StoreKind::S3);
        assert_eq!(s.s3.bucket, "profiles");
        assert_eq!(s.prefix, "flamedb/prod");

        let s = ObjectStoreConfig::from_url("s3://profiles").unwrap();
        assert_eq!((s.s3.bucket.as_str(), s.prefix.as_str()), ("profiles", ""));

        let f = ObjectStoreConfig::from_url("file:///var/lib/flamedb").unwrap();
        assert_eq!(f.kind, StoreKind::Local);
        assert_eq!(f.local_dir, PathBuf::from("/var/lib/flamedb"));

        let d = ObjectStoreConfig::from_url("relative/dir").unwrap();
        assert_eq!(d.local_dir, PathBuf::from("relative/dir"));

        for (url, why) in [
            ("s3://", "S3 needs a bucket"),
            ("s3:///prefix", "S3 needs a bucket"),
            ("gs://bucket", "unsupported store URL"),
            ("file://", "needs a directory"),
            ("", "empty store location"),
        ] {
            let e = ObjectStoreConfig::from_url(url).unwrap_err().to_string();
            assert!(e.contains(why), "{url:?}: {e}");
        }
    }

    #[test]
    fn s3_settings_are_checked() {
        s3("flamedb-test.1").validate().unwrap();
        assert!(err(&s3("")).contains("S3 needs a bucket"));
        for bad in [
            "ab",
            "Upper",
            "under_score",
            "-dash",
            "dot.",
            &"x".repeat(64),
        ] {
            assert!(err(&s3(bad)).contains("is not valid"), "{bad}");
        }

        let mut c = s3("bucket");
        c.s3.access_key_id = Some("id".into());
        assert!(err(&c).contains("without a secret key"));
        c.s3.access_key_id = None;
        c.s3.secret_access_key = Some("secret".into());
        assert!(err(&c).contains("without an access key id"));
        c.s3.secret_access_key = None;
        c.s3.session_token = Some("token".into());
        assert!(err(&c).contains("session token"));

        let mut c = s3("bucket");
        c.s3.endpoint = Some("http://127.0.0.1:9000".into());
        assert!(err(&c).contains("allow http"));
        c.s3.allow_http = true;
        c.validate().unwrap();
        c.s3.endpoint = Some("127.0.0.1:9000".into());
        assert!(err(&c).contains("must start with http"));

        let mut c = s3("bucket");
        c.s3.region = " ".into();
        assert!(err(&c).contains("region"));
    }

    #[test]
    fn prefix_and_retry_are_checked() {
        let mut c = ObjectStoreConfig::from_url("memory").unwrap();
        c.prefix = "a/../b".into();
        assert!(err(&c).contains("key prefix"));
        c.prefix = "/a/b/".into();
        c.validate().unwrap();

        let mut c = ObjectStoreConfig::default();
        c.retry.initial_backoff = Duration::from_secs(20);
        assert!(err(&c).contains("longer than the max backoff"));

        let r = RetrySettings {
            max_retries: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(30),
        }
        .to_retry_config();
        assert_eq!(r.max_retries, 3);
        assert_eq!(r.backoff.init_backoff, Duration::from_millis(50));
        assert_eq!(r.backoff.max_backoff, Duration::from_secs(2));
        assert_eq!(r.retry_timeout, Duration::from_secs(30));
    }

    #[test]
    fn build_gives_the_store_and_root() {
        let (_, root) = build(&ObjectStoreConfig {
            kind: StoreKind::Memory,
            prefix: "/tenant-data/".into(),
            ..ObjectStoreConfig::default()
        })
        .unwrap();
        assert_eq!(root.as_ref(), "tenant-data");

        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested/store");
        let (store, root) = build(&ObjectStoreConfig {
            local_dir: dir.clone(),
            ..ObjectStoreConfig::default()
        })
        .unwrap();
        assert!(dir.is_dir(), "the local directory is created");
        assert_eq!(root, Path::default());
        assert!(store.to_string().starts_with("LocalFileSystem"), "{store}");

        // Building an S3 store sends nothing, so it works without a server.
        let mut c = s3("flamedb");
        c.s3.endpoint = Some("http://127.0.0.1:1".into());
        c.s3.allow_http = true;
        c.prefix = "p/q".into();
        let (store, root) = build(&c).unwrap();
        assert_eq!(root.as_ref(), "p/q");
        assert!(store.to_string().contains("flamedb"), "{store}");

        assert!(build(&s3("")).is_err());
    }
}
