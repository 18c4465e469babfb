//! Credentials and TLS files for tests against a [`LocalServer`](super::LocalServer) with
//! authentication (feature `test-util-auth`): [`TlsFiles`] (a CA, a server and a client
//! certificate made with rcgen), [`NkeyUser`] (an NKey user and its seed file) and
//! [`Operator`] (operator mode: operator, account and user JWTs and the user's creds file).
//!
//! Each fixture writes its files into a directory the test owns and gives the nats-server
//! configuration block that goes with it, for [`LocalServer::start_with_config`](super::LocalServer::start_with_config).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose,
};
use serde_json::{Value, json};

/// Making a fixture failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// Writing a file failed.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// rcgen could not make a key or certificate.
    #[error("cannot make a TLS certificate")]
    Certificate(#[from] rcgen::Error),
    /// nkeys could not make or use a key.
    #[error("cannot make an NKey: {0}")]
    Nkey(String),
}

fn write(path: PathBuf, text: &str) -> Result<PathBuf, FixtureError> {
    std::fs::write(&path, text).map_err(|source| FixtureError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// PEM files of a test CA, a server certificate for `localhost` and `127.0.0.1` signed by it,
/// and a client certificate (CN `eventmap-test-client`) signed by it.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server certificate.
    pub server_cert: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
    /// The client certificate (mutual TLS).
    pub client_cert: PathBuf,
    /// The client's private key.
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// Generates the certificates and writes them as `ca.pem`, `server-cert.pem`,
    /// `server-key.pem`, `client-cert.pem` and `client-key.pem` in `dir`.
    ///
    /// # Errors
    ///
    /// [`FixtureError`] when a certificate cannot be made or written.
    pub fn generate(dir: &Path) -> Result<Self, FixtureError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "eventmap test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
        let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let mut params = CertificateParams::new(names)?;
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            let key = rcgen::KeyPair::generate()?;
            let cert = params.signed_by(&key, &ca)?;
            Ok::<_, rcgen::Error>((cert.pem(), key.serialize_pem()))
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_cert, client_key) = leaf(
            vec!["eventmap-test-client".into()],
            "eventmap-test-client",
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        Ok(Self {
            ca: write(dir.join("ca.pem"), &ca.pem())?,
            server_cert: write(dir.join("server-cert.pem"), &server_cert)?,
            server_key: write(dir.join("server-key.pem"), &server_key)?,
            client_cert: write(dir.join("client-cert.pem"), &client_cert)?,
            client_key: write(dir.join("client-key.pem"), &client_key)?,
        })
    }

    /// The nats-server `tls { ... }` block: this server certificate, this CA, and with
    /// `verify` a client certificate required (mutual TLS).
    pub fn server_block(&self, verify: bool) -> String {
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: {verify}\n  timeout: 5\n}}\n",
            self.server_cert.display().to_string(),
            self.server_key.display().to_string(),
            self.ca.display().to_string(),
        )
    }
}

/// An NKey user: its public key (`U...`, for the server's `authorization { users: [{nkey:
/// ...}] }`) and a file holding its seed (`SU...`, for the client's `--nkey`).
#[derive(Debug, Clone)]
pub struct NkeyUser {
    /// The public key.
    pub public_key: String,
    /// The seed file.
    pub seed_file: PathBuf,
}

impl NkeyUser {
    /// Makes a user key and writes its seed to `<dir>/<name>.nk`.
    ///
    /// # Errors
    ///
    /// [`FixtureError`] when the key cannot be made or the file written.
    pub fn generate(dir: &Path, name: &str) -> Result<Self, FixtureError> {
        let user = KeyPair::new_user();
        let seed = user
            .seed()
            .map_err(|err| FixtureError::Nkey(err.to_string()))?;
        Ok(Self {
            public_key: user.public_key(),
            seed_file: write(dir.join(format!("{name}.nk")), &format!("{seed}\n"))?,
        })
    }
}

/// Operator mode: an operator, an account with JetStream (no limits), a user of that account,
/// their JWTs, and the user's creds file.
#[derive(Debug, Clone)]
pub struct Operator {
    operator_jwt: String,
    /// (public key, JWT) of the account of the user, then of the system account.
    accounts: [(String, String); 2],
    /// The user's creds file (JWT and seed, in the format `nsc` writes).
    pub creds_file: PathBuf,
}

impl Operator {
    /// Makes the keys and JWTs and writes the user's creds file to `<dir>/<name>.creds`.
    ///
    /// JWTs follow the NATS JWT v2 format (nats-io/jwt): a `{"typ":"JWT","alg":"ed25519-nkey"}`
    /// header, claims with `iss`/`sub` public keys and a `nats` object of `type`
    /// `operator`/`account`/`user`, an Ed25519 signature of `header.claims` by the issuer;
    /// each part base64url without padding.
    ///
    /// # Errors
    ///
    /// [`FixtureError`] when a key cannot be made or used, or the file written.
    pub fn generate(dir: &Path, name: &str) -> Result<Self, FixtureError> {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let system = KeyPair::new_account();
        let user = KeyPair::new_user();
        // JetStream needs a system account in operator mode.
        let operator_jwt = jwt(
            &operator,
            &operator.public_key(),
            "eventmap-test-operator",
            json!({"type": "operator", "version": 2, "system_account": system.public_key()}),
        )?;
        let system_jwt = jwt(
            &operator,
            &system.public_key(),
            "SYS",
            json!({"type": "account", "version": 2}),
        )?;
        let account_jwt = jwt(
            &operator,
            &account.public_key(),
            "eventmap-test-account",
            json!({
                "type": "account",
                "version": 2,
                "limits": {
                    "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                    "wildcards": true, "conn": -1, "leaf": -1,
                    "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1
                }
            }),
        )?;
        let user_jwt = jwt(
            &account,
            &user.public_key(),
            name,
            json!({
                "type": "user",
                "version": 2,
                "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1
            }),
        )?;
        let seed = user
            .seed()
            .map_err(|err| FixtureError::Nkey(err.to_string()))?;
        let creds = format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        );
        Ok(Self {
            operator_jwt,
            accounts: [
                (account.public_key(), account_jwt),
                (system.public_key(), system_jwt),
            ],
            creds_file: write(dir.join(format!("{name}.creds")), &creds)?,
        })
    }

    /// The nats-server configuration of operator mode with this operator, its system
    /// account, and both accounts preloaded into a memory resolver.
    pub fn server_config(&self) -> String {
        let [(account, account_jwt), (system, system_jwt)] = &self.accounts;
        format!(
            "operator: {}\nsystem_account: {system}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {account}: {account_jwt}\n  {system}: {system_jwt}\n}}\n",
            self.operator_jwt
        )
    }
}

/// A NATS JWT of `subject` signed by `issuer`, with `nats` as its `nats` claims.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> Result<String, FixtureError> {
    let issued_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let claims = json!({
        "jti": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        "iat": issued_at,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let signature = issuer
        .sign(signed.as_bytes())
        .map_err(|err| FixtureError::Nkey(err.to_string()))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}
