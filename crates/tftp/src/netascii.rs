//! netascii (RFC 764 via RFC 1350): on the wire every line ends in CR LF and a
//! bare CR is sent as CR NUL.

/// Converts local text (LF line ends) to netascii.
pub fn encode(local: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(local.len() + local.len() / 32);
    for &b in local {
        match b {
            b'\n' => wire.extend_from_slice(b"\r\n"),
            b'\r' => wire.extend_from_slice(b"\r\0"),
            other => wire.push(other),
        }
    }
    wire
}

/// Converts netascii back to local text. A CR followed by anything other than
/// LF or NUL is kept as it is, as lenient receivers do.
pub fn decode(wire: &[u8]) -> Vec<u8> {
    let mut local = Vec::with_capacity(wire.len());
    let mut bytes = wire.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if b == b'\r' {
            match bytes.peek() {
                Some(b'\n') => {
                    bytes.next();
                    local.push(b'\n');
                }
                Some(0) => {
                    bytes.next();
                    local.push(b'\r');
                }
                _ => local.push(b'\r'),
            }
        } else {
            local.push(b);
        }
    }
    local
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn line_ends_and_bare_cr() {
        assert_eq!(encode(b"a\nb\rc"), b"a\r\nb\r\0c");
        assert_eq!(decode(b"a\r\nb\r\0c"), b"a\nb\rc");
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(text in proptest::collection::vec(any::<u8>(), 0..512)) {
            prop_assert_eq!(decode(&encode(&text)), text);
        }
    }
}
