//! [`LocalCluster`]: three `nats-server` processes forming a JetStream cluster, for tests of
//! replicated streams and of servers going away.
//!
//! ```no_run
//! use eventmap::nats::{JetStreamPublisher, async_nats, provision_streams};
//! use eventmap::test_util::LocalCluster;
//! use eventmap::ChannelSpec;
//!
//! const ORDERS: ChannelSpec =
//!     ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS").with_replicas(3);
//!
//! # async fn a_test() -> Result<(), Box<dyn std::error::Error>> {
//! // In a #[tokio::test]: three servers on 127.0.0.1, ready once JetStream has a meta leader.
//! let mut cluster = LocalCluster::start().await?;
//! // The client gets every server's URL and moves to another one when its server dies.
//! let client = async_nats::connect(cluster.urls()).await?;
//! let context = async_nats::jetstream::new(client);
//! provision_streams(&context, &[ORDERS]).await?;
//! let publisher = JetStreamPublisher::new(context.clone());
//! // ... publish ...
//! if let Some(leader) = cluster.stream_leader(&context, "ORDERING_ORDERS").await {
//!     cluster.kill(leader).await?; // SIGKILL: the other two elect a new stream leader
//!     // ... publish and consume on ...
//!     cluster.restart(leader).await?; // same ports and store: it catches up
//! }
//! drop(cluster); // kills the three servers and removes their stores
//! # Ok(())
//! # }
//! ```

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::Context;
use tempfile::TempDir;
use tokio::process::Child;

use super::LocalServer;
use super::nats_server::{PORT_ATTEMPTS, ServerError};
use super::process::{free_port, io_error, log_len, log_tail, spawn_logged, wait_ready};

/// Servers in a [`LocalCluster`] ([`LocalCluster::NODES`]).
const NODES: usize = 3;
/// How long [`LocalCluster::start`] waits for JetStream to elect a meta leader.
const META_LEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Name of the cluster (`--cluster_name`).
const CLUSTER_NAME: &str = "eventmap-test";

/// One server of the cluster.
#[derive(Debug)]
struct Node {
    /// `--server_name`: `n0`, `n1`, `n2` (what stream info's `cluster.leader` reports).
    name: String,
    /// Client port.
    port: u16,
    /// Route port (`--cluster nats://127.0.0.1:<cluster_port>`).
    cluster_port: u16,
    /// Folder of its store (`jetstream/`) and log (`nats-server.log`).
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn log_path(&self) -> PathBuf {
        self.dir.join("nats-server.log")
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn route(&self) -> String {
        format!("nats://127.0.0.1:{}", self.cluster_port)
    }
}

/// A JetStream cluster of [`NODES`](Self::NODES) (3) `nats-server` processes on loopback, each with its own
/// store and log in one temporary directory; all killed on drop.
///
/// Server `i` runs as `nats-server -js -a 127.0.0.1 -p <port> -sd <tmp>/n<i>/jetstream
/// --server_name n<i> --cluster_name eventmap-test --cluster nats://127.0.0.1:<cluster port>
/// --routes <the other servers' cluster URLs>`, on free ports, with stdout and stderr
/// appended to `<tmp>/n<i>/nats-server.log`. [`start`](Self::start) returns once every server
/// accepts connections and JetStream has a meta leader (the cluster's coordinator, without
/// which no stream can be created).
///
/// Faults: [`kill`](Self::kill) (SIGKILL) and [`restart`](Self::restart) (same ports, same
/// store). [`stream_leader`](Self::stream_leader) says which server leads a stream.
///
/// The binary is found as for [`LocalServer`] ([`LocalServer::find_binary`]).
#[derive(Debug)]
pub struct LocalCluster {
    binary: PathBuf,
    nodes: Vec<Node>,
    // Dropped after the processes (fields drop in order): their stores go last.
    dir: TempDir,
}

impl LocalCluster {
    /// Servers in the cluster: 3, the smallest cluster that keeps a quorum (2) when one
    /// server is lost.
    pub const NODES: usize = NODES;

    /// Finds a `nats-server` >= 2.10, starts [`NODES`](Self::NODES) servers and waits for a
    /// meta leader.
    ///
    /// # Errors
    ///
    /// [`ServerError::NoBinary`]/[`ServerError::TooOld`] without a suitable binary, a start-up
    /// failure of a server, or [`ServerError::NotReady`] when no meta leader is elected
    /// within 30 s (the error quotes every server's log).
    pub async fn start() -> Result<Self, ServerError> {
        let (binary, _version) = LocalServer::find_binary().await?;
        let dir = tempfile::Builder::new()
            .prefix("eventmap-cluster-")
            .tempdir()
            .map_err(io_error("cannot create a temporary directory"))?;
        let mut nodes = Vec::with_capacity(NODES);
        for i in 0..NODES {
            let node_dir = dir.path().join(format!("n{i}"));
            std::fs::create_dir_all(&node_dir)
                .map_err(io_error("cannot create a server's directory"))?;
            nodes.push(Node {
                name: format!("n{i}"),
                port: free_port()?,
                cluster_port: free_port()?,
                dir: node_dir,
                child: None,
            });
        }
        let mut cluster = Self { binary, nodes, dir };
        for i in 0..NODES {
            cluster.launch_new(i).await?;
        }
        cluster.wait_meta_leader(META_LEADER_TIMEOUT).await?;
        tracing::debug!(url = %cluster.url(), "nats cluster ready");
        Ok(cluster)
    }

    /// Launches server `i` for the first time; a port taken by another process in the
    /// meantime (the server exits) is replaced by a new free one, up to 3 attempts.
    async fn launch_new(&mut self, i: usize) -> Result<(), ServerError> {
        let mut attempts = 1;
        loop {
            match self.launch(i).await {
                Err(ServerError::Exited { .. }) if attempts < PORT_ATTEMPTS => {
                    attempts += 1;
                    self.nodes[i].port = free_port()?;
                    self.nodes[i].cluster_port = free_port()?;
                }
                outcome => return outcome,
            }
        }
    }

    /// Spawns server `i` and waits until it accepts connections.
    async fn launch(&mut self, i: usize) -> Result<(), ServerError> {
        let routes: Vec<String> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, node)| node.route())
            .collect();
        let node = &mut self.nodes[i];
        let log = node.log_path();
        let log_start = log_len(&log);
        let args: Vec<OsString> = vec![
            "-js".into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            node.port.to_string().into(),
            "-sd".into(),
            node.dir.join("jetstream").into(),
            "--server_name".into(),
            node.name.clone().into(),
            "--cluster_name".into(),
            CLUSTER_NAME.into(),
            "--cluster".into(),
            node.route().into(),
            "--routes".into(),
            routes.join(",").into(),
        ];
        node.child = Some(spawn_logged(&self.binary, args, &log)?);
        tracing::debug!(server = %node.name, port = node.port, cluster_port = node.cluster_port, "nats-server spawned");
        wait_ready(&mut node.child, node.port, &log, log_start).await
    }

    /// Waits up to `timeout` until JetStream answers an account info request
    /// (`$JS.API.INFO`), which it does only once the servers have elected a meta leader.
    ///
    /// # Errors
    ///
    /// [`ServerError::NotReady`] with every server's log tail.
    pub async fn wait_meta_leader(&self, timeout: Duration) -> Result<(), ServerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let connect = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .retry_on_initial_connect()
            .connect(self.running_urls());
        let client = tokio::time::timeout(timeout, connect)
            .await
            .ok()
            .and_then(Result::ok);
        if let Some(client) = client {
            let mut context = async_nats::jetstream::new(client);
            context.set_timeout(Duration::from_secs(2));
            while tokio::time::Instant::now() < deadline {
                if context.query_account().await.is_ok() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Err(ServerError::NotReady {
            url: self.url(),
            waited: timeout,
            log: self.log_tails(),
        })
    }

    /// The client URL list, every server's URL in order, comma-separated:
    /// `nats://127.0.0.1:<port0>,nats://127.0.0.1:<port1>,nats://127.0.0.1:<port2>`: the form
    /// of `NATS_URL`, of the `nats` CLI's `--server` and of
    /// `eventmap::nats::connect::ConnectSettings::new`. async-nats 0.52 reads a
    /// string as one URL: give `async_nats::connect` the list of [`urls`](Self::urls).
    pub fn url(&self) -> String {
        self.urls().join(",")
    }

    /// Every server's client URL, `nats://127.0.0.1:<port>`, in server order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// The URLs of the servers running now.
    fn running_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|node| node.child.is_some())
            .map(Node::url)
            .collect()
    }

    /// The server name of server `i` (`n<i>`), as stream info reports leaders; `None` when
    /// there is no server `i`.
    pub fn name(&self, i: usize) -> Option<&str> {
        self.nodes.get(i).map(|node| node.name.as_str())
    }

    /// Whether server `i` is running (started and not killed).
    pub fn is_running(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(|node| node.child.is_some())
    }

    /// The server that leads `stream` now (from stream info's `cluster.leader`), by index;
    /// `None` when the stream does not exist, has no leader (an election is under way, or no
    /// quorum), or the request fails. Asked through `context`, a client of this cluster.
    pub async fn stream_leader(&self, context: &Context, stream: &str) -> Option<usize> {
        let mut handle = context.get_stream(stream).await.ok()?;
        let info = handle.info().await.ok()?;
        let leader = info.cluster.as_ref()?.leader.as_deref()?;
        self.nodes.iter().position(|node| node.name == leader)
    }

    /// Kills server `i` with SIGKILL (no shutdown of its own, as a crash) and waits for it
    /// to exit. Its store is kept for [`restart`](Self::restart). Does nothing if it is not
    /// running.
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] if there is no server `i` or it cannot be killed.
    pub async fn kill(&mut self, i: usize) -> Result<(), ServerError> {
        let node = self.node_mut(i)?;
        if let Some(mut child) = node.child.take() {
            child
                .kill()
                .await
                .map_err(io_error("cannot kill nats-server"))?;
            tracing::debug!(server = %node.name, "nats-server killed");
        }
        Ok(())
    }

    /// Kills server `i` if running, then starts it again with the same ports and store, and
    /// waits until it accepts connections (it then rejoins the cluster and catches up with
    /// the streams it replicates).
    ///
    /// # Errors
    ///
    /// As [`kill`](Self::kill), or a start-up failure.
    pub async fn restart(&mut self, i: usize) -> Result<(), ServerError> {
        self.kill(i).await?;
        self.launch(i).await
    }

    /// The log tail of server `i` (empty when unreadable or no such server).
    pub fn log_tail(&self, i: usize) -> String {
        self.nodes
            .get(i)
            .map(|node| log_tail(&node.log_path()))
            .unwrap_or_default()
    }

    /// Every server's log tail, each under a `--- n<i> ---` line.
    fn log_tails(&self) -> String {
        self.nodes
            .iter()
            .map(|node| format!("--- {} ---\n{}", node.name, log_tail(&node.log_path())))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The temporary directory holding every server's folder (`n<i>/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn node_mut(&mut self, i: usize) -> Result<&mut Node, ServerError> {
        let count = self.nodes.len();
        self.nodes.get_mut(i).ok_or_else(|| ServerError::Io {
            action: format!("no server {i} in a cluster of {count}"),
            source: io::ErrorKind::InvalidInput.into(),
        })
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(child) = node.child.as_mut() {
                // kill_on_drop would do it too; be explicit. Errors (already exited) are moot.
                let _ = child.start_kill();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn three_servers_elect_leaders_and_survive_one_killed() {
        let mut cluster = match LocalCluster::start().await {
            Ok(cluster) => cluster,
            Err(ServerError::NoBinary { .. }) => {
                eprintln!("no nats-server: skipped");
                return;
            }
            Err(err) => panic!("{err}"),
        };
        assert_eq!(cluster.urls().len(), NODES);
        assert_eq!(cluster.url().split(',').count(), NODES);
        let client = async_nats::connect(cluster.urls()).await.unwrap();
        let context = async_nats::jetstream::new(client);
        context
            .create_stream(async_nats::jetstream::stream::Config {
                name: "R3".into(),
                subjects: vec!["r3.>".into()],
                num_replicas: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        let leader = cluster.stream_leader(&context, "R3").await.unwrap();
        assert!(leader < NODES);
        cluster.kill(leader).await.unwrap();
        assert!(!cluster.is_running(leader));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let new_leader = loop {
            if let Some(new) = cluster.stream_leader(&context, "R3").await {
                break new;
            }
            assert!(tokio::time::Instant::now() < deadline, "no new leader");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_ne!(new_leader, leader);
        cluster.restart(leader).await.unwrap();
        assert!(cluster.is_running(leader));
        assert!(cluster.kill(NODES).await.is_err());
    }
}
