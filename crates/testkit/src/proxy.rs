//! A TCP proxy that can cut a service off from a dependency (the broker, the database) and
//! let it back, to test what happens while it is unreachable. Two ways to be unreachable:
//! refusing connections (the port is closed: clients wait and retry) and accepting then
//! closing them at once (clients get an error immediately, as from a server that is up but
//! failing).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How the proxy treats connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards to the target.
    Up,
    /// Accepts and closes at once: every connection attempt fails fast.
    FailFast,
    /// Does not listen: connections are refused.
    Refuse,
}

pub struct TcpProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    /// Bumped to drop every open connection.
    generation: watch::Sender<u64>,
}

impl TcpProxy {
    /// Listens on 127.0.0.1:0 and forwards to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(ProxyMode::Up);
        let (generation, _) = watch::channel(0u64);
        tokio::spawn(accept_loop(
            listener,
            addr,
            target,
            mode.subscribe(),
            generation.clone(),
        ));
        TcpProxy {
            addr,
            mode,
            generation,
        }
    }

    /// Drops every open connection and switches to `mode`.
    pub fn set_mode(&self, mode: ProxyMode) {
        if mode != ProxyMode::Up {
            self.generation.send_modify(|g| *g += 1);
        }
        self.mode.send_replace(mode);
    }

    /// Drops every open connection and fails new ones fast (`true`), or forwards again.
    pub fn set_down(&self, down: bool) {
        self.set_mode(if down {
            ProxyMode::FailFast
        } else {
            ProxyMode::Up
        });
    }

    pub fn mode(&self) -> ProxyMode {
        *self.mode.borrow()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

async fn accept_loop(
    mut listener: TcpListener,
    addr: SocketAddr,
    target: SocketAddr,
    mut mode: watch::Receiver<ProxyMode>,
    generation: watch::Sender<u64>,
) {
    loop {
        if *mode.borrow_and_update() == ProxyMode::Refuse {
            drop(listener);
            while *mode.borrow_and_update() == ProxyMode::Refuse {
                if mode.changed().await.is_err() {
                    return;
                }
            }
            listener = loop {
                // The port was ours a moment ago; SO_REUSEADDR lets us take it back.
                match TcpListener::bind(addr).await {
                    Ok(l) => break l,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
        }
        let accepted = tokio::select! {
            a = listener.accept() => a,
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let Ok((mut inbound, _)) = accepted else {
            continue;
        };
        if *mode.borrow() != ProxyMode::Up {
            drop(inbound);
            continue;
        }
        let mut cut = generation.subscribe();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(target).await else {
                return;
            };
            tokio::select! {
                _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = cut.changed() => {}
            }
        });
    }
}
