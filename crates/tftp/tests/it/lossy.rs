//! The server and client state machines driven against each other over a
//! simulated network that loses, duplicates, delays and reorders datagrams,
//! on a virtual clock: the exact bytes arrive, or both sides end with an error.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use phoneprov_tftp::{
    negotiate, ClientConfig, Download, Mode, Outcome, Packet, ReadTransfer, ServerLimits,
};
use proptest::prelude::*;

const CLIENT: &str = "127.0.0.2:40000";
const LISTENER: &str = "127.0.0.1:69";
const TRANSFER: &str = "127.0.0.1:50000";

/// A tiny deterministic generator, so a failing case replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 10_000) as f64 / 10_000.0 < p
    }
}

#[derive(Debug, Clone)]
pub struct Weather {
    pub loss: f64,
    pub duplication: f64,
    pub max_delay_ms: u64,
    pub seed: u64,
}

impl Weather {
    pub fn clear() -> Weather {
        Weather {
            loss: 0.0,
            duplication: 0.0,
            max_delay_ms: 0,
            seed: 1,
        }
    }
}

struct InFlight {
    at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

pub struct Run {
    pub client: Download,
    pub server: Option<ReadTransfer>,
    pub content: Vec<u8>,
}

/// Runs one download of `file` to completion (or until the virtual clock
/// passes an hour, which would mean a hang).
pub fn run(
    file: &[u8],
    mode: Mode,
    config: ClientConfig,
    limits: &ServerLimits,
    weather: &Weather,
) -> Run {
    let client_addr: SocketAddr = CLIENT.parse().unwrap();
    let listener: SocketAddr = LISTENER.parse().unwrap();
    let transfer_addr: SocketAddr = TRANSFER.parse().unwrap();
    let start = Instant::now();
    let mut now = start;
    let mut rng = Rng(weather.seed | 1);
    let mut client = Download::new(listener, "f", config, now);
    let mut server: Option<ReadTransfer> = None;
    let mut wire: Vec<InFlight> = Vec::new();
    let mut buf = Vec::new();
    loop {
        assert!(now - start < Duration::from_secs(3600), "the transfer hung");
        // Everything both sides want to send goes on the wire.
        let mut send =
            |from: SocketAddr, to: SocketAddr, bytes: &[u8], wire: &mut Vec<InFlight>| {
                if rng.chance(weather.loss) {
                    return;
                }
                let copies = if rng.chance(weather.duplication) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let delay = Duration::from_millis(rng.next() % (weather.max_delay_ms + 1));
                    wire.push(InFlight {
                        at: now + delay,
                        from,
                        to,
                        bytes: bytes.to_vec(),
                    });
                }
            };
        while let Some(to) = client.poll_transmit(&mut buf) {
            send(client_addr, to, &buf, &mut wire);
        }
        if let Some(server) = server.as_mut() {
            while let Some(to) = server.poll_transmit(&mut buf) {
                send(transfer_addr, to, &buf, &mut wire);
            }
        }
        let server_done = server.as_ref().is_none_or(|s| s.is_finished());
        if client.is_closed() && server_done && wire.is_empty() {
            break;
        }
        // The next event: the earliest datagram or timer.
        let next_packet = wire
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.at)
            .map(|(i, p)| (i, p.at));
        let next_timer = [
            client.poll_timeout(),
            server.as_ref().and_then(|s| s.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min();
        match (next_packet, next_timer) {
            (Some((i, at)), timer) if timer.is_none_or(|t| at <= t) => {
                now = now.max(at);
                let packet = wire.swap_remove(i);
                if packet.to == client_addr {
                    client.handle_datagram(packet.from, &packet.bytes, now);
                } else if packet.to == transfer_addr {
                    if let Some(server) = server.as_mut() {
                        server.handle_datagram(packet.from, &packet.bytes, now);
                    }
                } else if packet.to == listener && server.is_none() {
                    // The listener: the first RRQ starts the transfer, repeats are absorbed.
                    let Ok(Packet::Rrq(request)) = Packet::decode(&packet.bytes) else {
                        panic!("the client sent something other than an RRQ to port 69");
                    };
                    let negotiated =
                        negotiate(&request.options, mode, file.len() as u64, limits).unwrap();
                    server = Some(ReadTransfer::new(
                        packet.from,
                        Bytes::copy_from_slice(file),
                        mode,
                        &negotiated,
                        limits,
                        now,
                    ));
                }
            }
            (_, Some(timer)) => {
                now = now.max(timer);
                client.handle_timeout(now);
                if let Some(server) = server.as_mut() {
                    server.handle_timeout(now);
                }
            }
            (None, None) => break,
            (Some(_), None) => unreachable!(),
        }
    }
    let content = client.content();
    Run {
        client,
        server,
        content,
    }
}

/// The property: either the exact bytes arrived, or both sides failed.
fn check(file: &[u8], run: &Run) -> Result<(), TestCaseError> {
    match run.client.result() {
        Some(Ok(())) => prop_assert_eq!(&run.content, file, "the client got other bytes"),
        Some(Err(_)) => {
            let outcome = run.server.as_ref().and_then(|s| s.outcome());
            prop_assert!(
                outcome != Some(&Outcome::Sent),
                "the server claims success but the client failed"
            );
        }
        None => prop_assert!(false, "the client never finished"),
    }
    if let Some(Outcome::Sent) = run.server.as_ref().and_then(|s| s.outcome()) {
        prop_assert!(matches!(run.client.result(), Some(Ok(()))));
    }
    Ok(())
}

fn phone_client() -> ClientConfig {
    ClientConfig {
        retransmit_after: Duration::from_millis(500),
        max_retries: 8,
        ..ClientConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn bytes_arrive_or_both_sides_fail(
        file in proptest::collection::vec(any::<u8>(), 0..6000),
        blksize in prop_oneof![Just(None), Just(Some(8u16)), Just(Some(512)), Just(Some(1468)), Just(Some(4000))],
        windowsize in prop_oneof![Just(None), Just(Some(1u16)), Just(Some(2)), Just(Some(4)), Just(Some(16))],
        netascii in any::<bool>(),
        tsize in any::<bool>(),
        loss in 0.0f64..0.3,
        duplication in 0.0f64..0.3,
        max_delay_ms in 0u64..400,
        seed in any::<u64>(),
    ) {
        let mode = if netascii { Mode::Netascii } else { Mode::Octet };
        let config = ClientConfig { mode, blksize, windowsize, tsize, ..phone_client() };
        let weather = Weather { loss, duplication, max_delay_ms, seed };
        let run = run(&file, mode, config, &ServerLimits::default(), &weather);
        check(&file, &run)?;
    }

    #[test]
    fn clear_weather_always_delivers(
        file in proptest::collection::vec(any::<u8>(), 0..3000),
        blksize in prop_oneof![Just(None), Just(Some(8u16)), Just(Some(512))],
        windowsize in prop_oneof![Just(None), Just(Some(3u16))],
    ) {
        let config = ClientConfig { blksize, windowsize, ..phone_client() };
        let run = run(&file, Mode::Octet, config, &ServerLimits::default(), &Weather::clear());
        prop_assert_eq!(run.client.result(), Some(&Ok(())));
        prop_assert_eq!(run.content, file);
        prop_assert_eq!(run.server.as_ref().and_then(|s| s.outcome()), Some(&Outcome::Sent));
    }
}

#[test]
fn block_numbers_roll_over_past_65535() {
    // blksize 8 makes 70 000 blocks from half a megabyte.
    let file: Vec<u8> = (0..70_000u32 * 8 + 3).map(|i| (i % 251) as u8).collect();
    let config = ClientConfig {
        blksize: Some(8),
        ..phone_client()
    };
    let run = run(
        &file,
        Mode::Octet,
        config,
        &ServerLimits::default(),
        &Weather::clear(),
    );
    assert_eq!(run.client.result(), Some(&Ok(())));
    assert!(run.content == file);
    let stats = run.server.unwrap().stats();
    assert_eq!(stats.blocks, 70_001);
    assert_eq!(stats.blocks_retransmitted, 0);
}

#[test]
fn rollover_with_windows_and_loss() {
    let file: Vec<u8> = (0..66_000u32 * 8).map(|i| (i % 253) as u8).collect();
    let config = ClientConfig {
        blksize: Some(8),
        windowsize: Some(16),
        ..phone_client()
    };
    let weather = Weather {
        loss: 0.02,
        duplication: 0.02,
        max_delay_ms: 5,
        seed: 7,
    };
    let run = run(
        &file,
        Mode::Octet,
        config,
        &ServerLimits::default(),
        &weather,
    );
    assert_eq!(run.client.result(), Some(&Ok(())));
    assert!(run.content == file);
}
