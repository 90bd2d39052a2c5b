//! HTTPS and WSS served directly with rustls (`--tls-cert`, `--tls-key`).
//!
//! The server's rustls configuration asks [`Reloadable`] for its certificate
//! on every handshake, and SIGHUP swaps in whatever the two files hold then:
//! connections already open keep the session they negotiated, new handshakes
//! get the new certificate. A reload that fails (missing file, bad PEM, a key
//! that does not match) logs an error and keeps the old certificate; at start
//! the same failure stops the server with an error naming the file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// Why a certificate or key could not be loaded; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of `--tls-cert` and `--tls-key` was given.
    #[error("--tls-cert and --tls-key must be given together (HEARTH_TLS_CERT, HEARTH_TLS_KEY)")]
    Incomplete,
    /// The certificate file could not be read or holds no usable certificate.
    #[error("TLS certificate file {}: {detail}", path.display())]
    Cert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The key file could not be read or holds no usable private key.
    #[error("TLS key file {}: {detail}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The crypto provider for the server and its self-probe: rustls' default (aws-lc-rs).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The certificate new handshakes get; replaced on reload.
#[derive(Debug)]
struct Reloadable {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().clone())
    }
}

/// The TLS setup of a running server.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    resolver: Arc<Reloadable>,
}

/// A loaded certificate, for logs: the leaf's SHA-256 fingerprint and the chain length.
struct Loaded<'a>(&'a CertifiedKey);

impl fmt::Display for Loaded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let leaf = self.0.cert.first().map(|c| hex::encode(Sha256::digest(c.as_ref()))).unwrap_or_default();
        write!(f, "sha256 {leaf}, chain of {}", self.0.cert.len())
    }
}

impl Tls {
    /// TLS from the settings: None without `--tls-cert`/`--tls-key`, an error
    /// if only one is set or the files are unusable.
    pub fn from_config(cert: Option<&Path>, key: Option<&Path>) -> Result<Option<Tls>, TlsError> {
        match (cert, key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Tls::load(cert, key).map(Some),
            _ => Err(TlsError::Incomplete),
        }
    }

    /// Load the certificate chain and key from PEM files.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let provider = provider();
        let certified = load_certified_key(cert, key, &provider)?;
        tracing::info!(cert = %cert.display(), key = %key.display(), "TLS certificate loaded ({})", Loaded(&certified));
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            resolver: Arc::new(Reloadable { current: RwLock::new(Arc::new(certified)) }),
        })
    }

    /// The rustls server configuration (TLS 1.2 and 1.3, no client certificates).
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        Ok(rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.resolver.clone()))
    }

    /// Re-read both files and use them for new handshakes; on error keep the
    /// current certificate.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = load_certified_key(&self.cert, &self.key, &self.provider)?;
        tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded ({})", Loaded(&certified));
        *self.resolver.current.write() = Arc::new(certified);
        Ok(())
    }

    /// Reload on every SIGHUP from now on. Must run on the server's runtime.
    pub fn reload_on_sighup(self: Arc<Self>) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        // Registered now, so a SIGHUP right after start reloads instead of killing.
        let mut hup = signal(SignalKind::hangup())?;
        actix_web::rt::spawn(async move {
            while hup.recv().await.is_some() {
                if let Err(e) = self.reload() {
                    tracing::error!(error = %e, "SIGHUP: TLS reload failed; still serving the previous certificate");
                }
            }
        });
        Ok(())
    }
}

fn load_certified_key(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_err = |detail: String| TlsError::Cert { path: cert.to_path_buf(), detail };
    let key_err = |detail: String| TlsError::Key { path: key.to_path_buf(), detail };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| cert_err(pem_error(e)))?;
    if chain.is_empty() {
        return Err(cert_err("no PEM CERTIFICATE block in it".into()));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            key_err("no PEM private key block (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) in it".into())
        }
        e => key_err(pem_error(e)),
    })?;
    let signing =
        provider.key_provider.load_private_key(der).map_err(|e| key_err(format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(key_err(format!("the key does not belong to the certificate in {}", cert.display())))
        }
        Err(e) => Err(cert_err(format!("the first certificate is not usable: {e}"))),
    }
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => format!("cannot read it: {e}"),
        e => format!("not valid PEM: {e}"),
    }
}

/// A client configuration for the watchdog's probe of our own TLS listener
/// over loopback: it checks that the server answers, not who it is, so it
/// accepts any certificate (the name is an IP address the certificate need
/// not carry). Signatures are still checked.
pub fn probe_client_config() -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
