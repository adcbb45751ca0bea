//! The phone's TFTP reads: octet, no options, the same RRQ again every ~4 s
//! from one source port about five times, then once more from a new port
//! (reference §1.4, §7), driven over a UDP socket with the client state
//! machine of `phoneprov-tftp`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use phoneprov_tftp::{ClientConfig, Download, DownloadError};
use tokio::net::UdpSocket;

/// Source ports a phone tries for one file before it moves on.
const PORTS_PER_FILE: u32 = 2;

/// How a read ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fetched {
    File(Vec<u8>),
    /// The server answered with an ERROR packet.
    Refused(String),
    /// No answer from any port.
    TimedOut,
}

/// Reads `name` from `server`, from address `ip`, waiting `retransmit`
/// before each repeat.
pub(crate) async fn fetch(
    ip: IpAddr,
    server: SocketAddr,
    name: &str,
    retransmit: Duration,
) -> std::io::Result<Fetched> {
    let config = ClientConfig {
        retransmit_after: retransmit,
        backoff: false,
        max_retries: 4,
        ..ClientConfig::default()
    };
    let mut buf = vec![0u8; 2048];
    for _ in 0..PORTS_PER_FILE {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let mut download = Download::new(server, name, config.clone(), Instant::now());
        drive(&socket, &mut download, &mut buf, |d| d.result().is_some()).await;
        match download.result() {
            Some(Ok(())) => return Ok(Fetched::File(download.content())),
            Some(Err(DownloadError::TimedOut)) => continue,
            Some(Err(DownloadError::Server { message, .. })) => {
                return Ok(Fetched::Refused(message.clone()))
            }
            Some(Err(other)) => return Ok(Fetched::Refused(other.to_string())),
            None => continue,
        }
    }
    Ok(Fetched::TimedOut)
}

/// Runs a download on its socket until `done` says so (or it has nothing
/// more to wait for). The load generator drives its downloads with it too.
pub async fn drive(
    socket: &UdpSocket,
    download: &mut Download,
    buf: &mut [u8],
    done: fn(&Download) -> bool,
) {
    let mut out = Vec::with_capacity(600);
    loop {
        while let Some(to) = download.poll_transmit(&mut out) {
            // A lost send is a lost packet: the retransmission timer covers it.
            let _ = socket.send_to(&out, to).await;
        }
        if done(download) {
            return;
        }
        let Some(deadline) = download.poll_timeout() else {
            return;
        };
        tokio::select! {
            received = socket.recv_from(buf) => {
                if let Ok((len, from)) = received {
                    download.handle_datagram(from, &buf[..len], Instant::now());
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => download.handle_timeout(Instant::now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A server that never answers sees the same RRQ five times from one
    /// port, then five times from a new port; the phone then moves on.
    #[tokio::test]
    async fn an_unanswered_read_is_repeated_then_retried_from_a_new_port() {
        let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let server = silent.local_addr().unwrap();
        let phone = tokio::spawn(fetch(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            server,
            "CTLSEP0018B9000001.tlv",
            Duration::from_millis(5),
        ));
        let mut seen = Vec::new();
        let mut buf = [0u8; 600];
        while let Ok(Ok((len, from))) =
            tokio::time::timeout(Duration::from_millis(500), silent.recv_from(&mut buf)).await
        {
            seen.push((from.port(), buf[..len].to_vec()));
        }
        assert_eq!(phone.await.unwrap().unwrap(), Fetched::TimedOut);
        assert_eq!(seen.len(), 10);
        let rrq = b"\x00\x01CTLSEP0018B9000001.tlv\x00octet\x00";
        assert!(seen.iter().all(|(_, packet)| packet == rrq), "options sent");
        let (first, second) = (seen[0].0, seen[5].0);
        assert_ne!(first, second);
        assert!(seen[..5].iter().all(|(port, _)| *port == first));
        assert!(seen[5..].iter().all(|(port, _)| *port == second));
    }
}
