//! TLS on the listening port: a certificate chain and key from PEM files, rustls with the
//! `ring` provider, and ALPN offering `h2` then `http/1.1`, so one port serves both
//! protocols over TLS as it does in cleartext.
//!
//! Everything that can be wrong with the files is found when the server starts
//! ([`TlsConfig::from_pem_files`]), with the file's path in the message, never at the first
//! handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// ALPN ids in order of preference (RFC 7301): HTTP/2 (RFC 9113 §3.2) first, as ksqlDB's
/// clients use it for `/query-stream` and `/inserts-stream`, then HTTP/1.1.
pub const ALPN_H2: &[u8] = b"h2";
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A certificate file or key file that cannot be used, found at start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    // The cause is part of each message (not a `source`), so a CLI printing the error
    // chain shows it once.
    #[error("reading the TLS {what} file {}: {error}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the TLS {what} file {} is not valid PEM: {error}", path.display())]
    Pem {
        what: &'static str,
        path: PathBuf,
        error: pem::Error,
    },
    #[error("the TLS certificate file {} holds no PEM CERTIFICATE block", path.display())]
    NoCertificate { path: PathBuf },
    #[error(
        "the TLS key file {} holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        path.display()
    )]
    NoKey { path: PathBuf },
    #[error("the TLS certificate ({}) and key ({}) cannot be used together: {error}", cert.display(), key.display())]
    Refused {
        cert: PathBuf,
        key: PathBuf,
        error: rustls::Error,
    },
}

/// A loaded certificate and key, ready to accept handshakes. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

impl TlsConfig {
    /// Reads the chain (leaf first, as RFC 8446 §4.4.2 orders it) from `cert` and the
    /// private key (PKCS#8, PKCS#1 or SEC1) from `key`, and checks that they belong together.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, TlsError> {
        let chain = read_chain(cert)?;
        let private_key = read_key(key)?;
        // The provider is named rather than taken from the process default, so a crate that
        // enables another provider elsewhere in the build cannot make this ambiguous.
        // rustls 0.23.48 deprecates ring's provider because ring has no post-quantum key
        // exchange (X25519MLKEM768); the alternative, aws-lc-rs, is a long C build on our
        // 2-core machines. Classical X25519 / P-256 is what ksqlDB's JVM clients offer
        // anyway; switching is one feature flag when PQ matters.
        #[allow(deprecated)]
        let provider = ring::default_provider();
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .expect("ring supports rustls' default protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(|error| TlsError::Refused {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                error,
            })?;
        config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP_1_1.to_vec()];
        Ok(TlsConfig {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        path: path.to_path_buf(),
        error,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_file("certificate", path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem {
            what: "certificate",
            path: path.to_path_buf(),
            error,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_file("key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_path_buf(),
        },
        error => TlsError::Pem {
            what: "key",
            path: path.to_path_buf(),
            error,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sluice-tls-unit-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn a_missing_file_is_named_in_the_error() {
        let dir = temp_dir();
        let key = write(&dir, "key.pem", "");
        let missing = dir.join("nope.pem");
        let err = TlsConfig::from_pem_files(&missing, &key).expect_err("missing cert");
        let text = err.to_string();
        assert!(
            matches!(
                err,
                TlsError::Read {
                    what: "certificate",
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains("nope.pem"), "{text}");
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn a_file_without_pem_blocks_is_refused_by_kind() {
        let dir = temp_dir();
        let cert = write(&dir, "cert.pem", "this is not a certificate\n");
        let key = write(&dir, "key.pem", "nor a key\n");
        let err = TlsConfig::from_pem_files(&cert, &key).expect_err("no cert");
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn a_truncated_pem_block_is_a_pem_error() {
        let dir = temp_dir();
        let cert = write(&dir, "cert.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
        let key = write(&dir, "key.pem", "");
        let err = TlsConfig::from_pem_files(&cert, &key).expect_err("truncated");
        assert!(
            matches!(
                err,
                TlsError::Pem {
                    what: "certificate",
                    ..
                }
            ),
            "{err}"
        );
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
