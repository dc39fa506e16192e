//! Sign-In with Ethereum (EIP-4361) message parsing: enough of the grammar to know which site
//! and chain the message is for. Messages that do not start with the EIP-4361 preamble are
//! not SIWE messages and are left alone.

use serde::Serialize;

/// The parts of an EIP-4361 message that the checks need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiweMessage {
    /// The RFC 3986 authority that requests the signature.
    pub domain: String,
    /// Optional scheme before the domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The account signing in.
    pub address: String,
    /// `URI:` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `Chain ID:` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// `Nonce:` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `Expiration Time:` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<String>,
}

const PREAMBLE: &str = " wants you to sign in with your Ethereum account:";

impl SiweMessage {
    /// Parses `text` if it is an EIP-4361 message.
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let first = lines.next()?.trim_end();
        let authority = first.strip_suffix(PREAMBLE)?;
        let (scheme, domain) = match authority.split_once("://") {
            Some((s, d)) => (Some(s.to_owned()), d.to_owned()),
            None => (None, authority.to_owned()),
        };
        if domain.is_empty() || domain.contains(char::is_whitespace) {
            return None;
        }
        let address = lines.next()?.trim().to_owned();
        let mut msg =
            SiweMessage { domain, scheme, address, uri: None, chain_id: None, nonce: None, expiration_time: None };
        for line in lines {
            if let Some(v) = line.strip_prefix("URI: ") {
                msg.uri = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("Chain ID: ") {
                msg.chain_id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("Nonce: ") {
                msg.nonce = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("Expiration Time: ") {
                msg.expiration_time = Some(v.trim().to_owned());
            }
        }
        Some(msg)
    }
}

/// The authority (`host[:port]`, lowercase) of an origin given as a URL or a bare host.
pub fn origin_authority(origin: &str) -> String {
    let o = origin.trim();
    let rest = o.split_once("://").map_or(o, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    authority.to_ascii_lowercase()
}

/// Whether a SIWE domain names the same site as the origin. Ports must match when the SIWE
/// domain has one; a default port on the origin side is ignored.
pub fn same_site(siwe_domain: &str, origin: &str) -> bool {
    let o = origin_authority(origin);
    let d = siwe_domain.to_ascii_lowercase();
    if d == o {
        return true;
    }
    let strip_default = |a: &str| a.strip_suffix(":443").or_else(|| a.strip_suffix(":80")).unwrap_or(a).to_owned();
    strip_default(&d) == strip_default(&o)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = "app.uniswap.org wants you to sign in with your Ethereum account:\n0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n\nSign in.\n\nURI: https://app.uniswap.org\nVersion: 1\nChain ID: 1\nNonce: 32891756\nIssued At: 2021-09-30T16:25:24Z";

    #[test]
    fn parses_eip4361_example() {
        let m = SiweMessage::parse(MSG).unwrap();
        assert_eq!(m.domain, "app.uniswap.org");
        assert_eq!(m.chain_id, Some(1));
        assert_eq!(m.uri.as_deref(), Some("https://app.uniswap.org"));
        assert!(SiweMessage::parse("hello world").is_none());
        assert!(SiweMessage::parse("").is_none());
    }

    #[test]
    fn origin_matching() {
        assert!(same_site("app.uniswap.org", "https://app.uniswap.org/swap?x=1"));
        assert!(same_site("app.uniswap.org", "APP.UNISWAP.ORG"));
        assert!(same_site("localhost:3000", "http://localhost:3000/"));
        assert!(!same_site("app.uniswap.org", "https://app.uniswap.org.evil.xyz"));
        assert!(!same_site("localhost:3000", "http://localhost:4000"));
        assert!(same_site("example.com", "https://example.com:443"));
    }
}
