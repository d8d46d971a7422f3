//! Session ticket keys that every shard, every reload and every restart
//! agree on (RFC 5077 tickets for TLS 1.2, stateless PSK tickets for TLS
//! 1.3, RFC 8446 §4.6.1).
//!
//! OpenSSL's default is a random key per `SSL_CTX`, which would make a
//! ticket issued by one listener's contexts useless after a reload or a
//! restart. Instead each key is *derived*: time is cut into epochs of
//! `rotation` seconds, and the key of epoch `e` is
//!
//! ```text
//! name = HMAC-SHA256(secret, "weir ticket name" || e)[..16]
//! hmac = HMAC-SHA256(secret, "weir ticket hmac" || e)
//! aes  = HMAC-SHA256(secret, "weir ticket aes"  || e)
//! ```
//!
//! New tickets are sealed with the current epoch's key; a ticket is opened
//! if its name is that of one of the last `keep` epochs (and renewed, so a
//! client returning often always holds a fresh one), or of the next epoch
//! (a sibling machine whose clock runs a little ahead). Nothing is stored:
//! two processes with the same secret compute the same keys, so resumption
//! survives restarts and spans machines. Without a configured secret, a
//! random one is drawn once per process: tickets then survive reloads but
//! not restarts (what nginx does without `ssl_session_ticket_key`).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::sys::tls::{TicketKey, TicketKeySource};

/// The ticket keys of one process: derived from a secret by epoch.
pub(crate) struct TicketKeys {
    secret: [u8; 32],
    rotation_secs: u64,
    keep: u64,
    /// The most recently derived keys, by epoch (derivation costs three
    /// HMACs; a handshake needs one key).
    cache: Mutex<Vec<(u64, TicketKey)>>,
}

impl std::fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketKeys")
            .field("rotation_secs", &self.rotation_secs)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl TicketKeys {
    /// Keys from `secret`, rotated every `rotation_secs`, tickets accepted
    /// for `lifetime_secs` after they were sealed.
    pub(crate) fn new(secret: [u8; 32], rotation_secs: u64, lifetime_secs: u64) -> TicketKeys {
        let rotation_secs = rotation_secs.max(1);
        let keep = lifetime_secs.div_ceil(rotation_secs).max(1);
        TicketKeys { secret, rotation_secs, keep, cache: Mutex::new(Vec::new()) }
    }

    fn epoch_now(&self) -> u64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        now / self.rotation_secs
    }

    /// The key of `epoch`, derived or from the cache.
    pub(crate) fn key(&self, epoch: u64) -> Option<TicketKey> {
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, k)) = cache.iter().find(|(e, _)| *e == epoch) {
            return Some(k.clone());
        }
        let key = derive(&self.secret, epoch)?;
        // Keep the window of epochs in use, drop the rest.
        let low = self.epoch_now().saturating_sub(self.keep + 1);
        cache.retain(|(e, _)| *e >= low);
        cache.push((epoch, key.clone()));
        Some(key)
    }

    fn find_at(&self, name: &[u8; 16], now: u64) -> Option<(TicketKey, bool)> {
        if let Some(k) = self.key(now + 1).filter(|k| &k.name == name) {
            return Some((k, false));
        }
        (0..=self.keep).find_map(|back| {
            let epoch = now.checked_sub(back)?;
            self.key(epoch).filter(|k| &k.name == name).map(|k| (k, back > 0))
        })
    }
}

impl TicketKeySource for TicketKeys {
    fn current(&self) -> Option<TicketKey> {
        self.key(self.epoch_now())
    }

    fn find(&self, name: &[u8; 16]) -> Option<(TicketKey, bool)> {
        self.find_at(name, self.epoch_now())
    }
}

fn derive(secret: &[u8; 32], epoch: u64) -> Option<TicketKey> {
    let mac = |label: &[u8]| -> Option<Vec<u8>> {
        let key = PKey::hmac(secret).ok()?;
        let mut s = Signer::new(MessageDigest::sha256(), &key).ok()?;
        s.update(label).ok()?;
        s.update(&epoch.to_be_bytes()).ok()?;
        s.sign_to_vec().ok()
    };
    let (name, hmac, aes) = (mac(b"weir ticket name")?, mac(b"weir ticket hmac")?, mac(b"weir ticket aes")?);
    Some(TicketKey {
        name: name.get(..16)?.try_into().ok()?,
        hmac: hmac.get(..32)?.try_into().ok()?,
        aes: aes.get(..32)?.try_into().ok()?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn same_secret_same_keys_other_secret_other_keys() {
        let a = TicketKeys::new([7; 32], 3600, 7200);
        let b = TicketKeys::new([7; 32], 3600, 7200);
        let c = TicketKeys::new([8; 32], 3600, 7200);
        assert_eq!(a.key(10).unwrap().name, b.key(10).unwrap().name);
        assert_eq!(a.key(10).unwrap().aes, b.key(10).unwrap().aes);
        assert_ne!(a.key(10).unwrap().name, c.key(10).unwrap().name);
        assert_ne!(a.key(10).unwrap().name, a.key(11).unwrap().name);
    }

    #[test]
    fn old_keys_are_accepted_for_the_lifetime_and_renewed() {
        // Rotation every hour, tickets good for two hours: epochs now, now-1
        // and now-2 open (the last two renewed), now-3 does not; now+1
        // (a clock ahead) opens without renewal.
        let keys = TicketKeys::new([1; 32], 3600, 7200);
        let now = 1000;
        let name = |e| keys.key(e).unwrap().name;
        assert_eq!(keys.find_at(&name(now), now).map(|(_, r)| r), Some(false));
        assert_eq!(keys.find_at(&name(now - 1), now).map(|(_, r)| r), Some(true));
        assert_eq!(keys.find_at(&name(now - 2), now).map(|(_, r)| r), Some(true));
        assert!(keys.find_at(&name(now - 3), now).is_none());
        assert_eq!(keys.find_at(&name(now + 1), now).map(|(_, r)| r), Some(false));
        assert!(keys.find_at(&[0; 16], now).is_none());
    }
}
