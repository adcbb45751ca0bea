//! The accept loop of phoneprov's stream servers (the control socket, HTTP):
//! each connection answered in a task of its own, every one cut off at
//! shutdown.

use std::future::Future;
use std::io;

use tokio_util::sync::CancellationToken;

/// A listening socket.
pub trait Listener: Send + 'static {
    type Stream: Send + 'static;
    fn next(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn next(&self) -> io::Result<Self::Stream> {
        Ok(self.accept().await?.0)
    }
}

impl Listener for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn next(&self) -> io::Result<Self::Stream> {
        Ok(self.accept().await?.0)
    }
}

/// Answers every connection of `listener` with `answer` until `shutdown`;
/// call in the runtime. A connection that fails to come is skipped.
pub fn answer_each<L: Listener, F>(
    listener: L,
    shutdown: CancellationToken,
    answer: impl Fn(L::Stream) -> F + Send + 'static,
) where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.next() => match accepted {
                    Ok(stream) => stream,
                    Err(_) => continue,
                },
            };
            let answering = answer(stream);
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = answering => {}
                }
            });
        }
    });
}
