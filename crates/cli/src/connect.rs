//! The engine's connector over `drover-transport`: one connection per host for the whole run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_engine::{BecomeInfo, ConnectionInfo, Connector};
use drover_host::{Host, HostError};
use drover_transport::{
    BecomeMethod, BecomeSpec, Connection, ConnectionSpec, SimSpec, SshSpec, Transport,
};

pub struct TransportConnector {
    transport: Transport,
    connections: Mutex<HashMap<String, (ConnectionInfo, Arc<Connection>)>>,
    warnings: Arc<Mutex<Vec<String>>>,
}

impl TransportConnector {
    pub fn new(transport: Transport, warnings: Arc<Mutex<Vec<String>>>) -> TransportConnector {
        TransportConnector {
            transport,
            connections: Mutex::new(HashMap::new()),
            warnings,
        }
    }

    fn connection(&self, info: &ConnectionInfo) -> Result<Arc<Connection>, HostError> {
        let mut conns = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((known, conn)) = conns.get(&info.host) {
            if known == info {
                return Ok(conn.clone());
            }
        }
        let spec = match info.kind.as_str() {
            "local" => ConnectionSpec::Local,
            // In-memory hosts with injected latency, for the controller-scale benchmark.
            "sim" => ConnectionSpec::Sim(SimSpec {
                latency: Duration::from_millis(info.sim_latency_ms.unwrap_or(0)),
            }),
            "ssh" | "smart" | "paramiko" | "paramiko_ssh" | "openssh" => {
                let mut s = SshSpec::new(info.address.clone());
                s.port = info.port;
                s.user = info.user.clone();
                s.private_key_file = info.private_key_file.clone();
                s.common_args = info.ssh_common_args.clone();
                s.extra_args = info.ssh_extra_args.clone();
                s.host_key_checking = info.host_key_checking.unwrap_or(true);
                s.connect_timeout = info.timeout.map(Duration::from_secs);
                ConnectionSpec::Ssh(s)
            }
            other => {
                return Err(HostError::Unsupported(format!(
                    "connection type '{other}' is not supported by drover (use ssh or local)"
                )))
            }
        };
        let conn = self.transport.connection(&info.host, spec);
        conns.insert(info.host.clone(), (info.clone(), conn.clone()));
        Ok(conn)
    }
}

#[async_trait::async_trait]
impl Connector for TransportConnector {
    async fn host(
        &self,
        info: &ConnectionInfo,
        become_: Option<&BecomeInfo>,
    ) -> Result<Arc<dyn Host>, HostError> {
        let conn = self.connection(info)?;
        let spec = match become_ {
            Some(b) => Some(BecomeSpec {
                method: match b.method.as_str() {
                    "sudo" => BecomeMethod::Sudo,
                    "su" => BecomeMethod::Su,
                    other => {
                        return Err(HostError::Unsupported(format!(
                            "become method '{other}' is not supported (use sudo or su)"
                        )))
                    }
                },
                user: b.user.clone(),
                password: b.password.clone(),
                flags: b.flags.clone(),
                exe: b.exe.clone(),
            }),
            None => None,
        };
        conn.host(spec.as_ref()).await
    }

    async fn reset(&self, host: &str) {
        let conn = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(host);
        if let Some((_, c)) = conn {
            c.close().await;
        }
    }

    async fn close_all(&self) {
        let all: Vec<Arc<Connection>> = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .map(|(_, (_, c))| c)
            .collect();
        // In parallel: each close stops a helper and asks the ssh master to exit.
        let mut closing = tokio::task::JoinSet::new();
        for c in all {
            closing.spawn(async move { c.close().await });
        }
        while closing.join_next().await.is_some() {}
    }

    fn take_warnings(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .warnings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}
