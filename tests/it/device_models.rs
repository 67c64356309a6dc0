//! The device models against the real libraries they name: every chain
//! variant × trust store × clock goes through chainstorm's model and
//! through OpenSSL 3 (three search modes), mbedTLS 2.28, wolfSSL 5.5,
//! Go, Java 17 and GnuTLS 3.7; accept/reject and the class of the reason
//! must agree. The README's device-model matrix is rendered here, so it
//! cannot drift from what was measured (`CHAINSTORM_BLESS=1` rewrites it).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chainstorm::metrics::VerifyCause;
use chainstorm::model::{DeviceModel, BUILTIN_MODELS};
use chainstorm::pki::{ChainKind, Role};
use chainstorm::trust::{ChainVerifier, DeviceClock, ValidationRules, VerifyFailure};
use rustls_pki_types::UnixTime;

use super::common::{ats_host, legacy_host, pki, profile};
use super::device_libs::{verdicts, Cell, Clock, Lib, Verdict, AHEAD_DAYS};

/// The served chains of the matrix.
const CHAINS: [ChainKind; 12] = [
    ChainKind::AtsRsa,
    ChainKind::AtsRsaCrossSigned,
    ChainKind::AtsRsaClass2,
    ChainKind::AtsEcc,
    ChainKind::AtsRsaM02,
    ChainKind::AtsEccM02,
    ChainKind::Legacy,
    ChainKind::MissingIntermediate,
    ChainKind::Expired,
    ChainKind::NotYetValid,
    ChainKind::WrongName,
    ChainKind::UnknownCa,
];

/// Trust stores: profile name and the roots it holds.
const STORES: [(&str, &[Role]); 6] = [
    ("ats-rsa-only", &[Role::AtsRsaRoot]),
    ("ats-ecc-only", &[Role::AtsEccRoot]),
    ("starfield-only", &[Role::StarfieldRoot]),
    ("starfield-class2-only", &[Role::StarfieldClass2Root]),
    ("legacy-only", &[Role::LegacyRoot]),
    (
        "dual",
        &[
            Role::LegacyRoot,
            Role::AtsRsaRoot,
            Role::AtsEccRoot,
            Role::StarfieldRoot,
        ],
    ),
];

const CLOCKS: [Clock; 3] = [Clock::Now, Clock::Unset, Clock::Ahead];

/// Which model's rules each library run is compared with.
fn model_for(lib: Lib) -> &'static str {
    match lib {
        Lib::OpensslTrustedFirst => "openssl-3",
        Lib::OpensslUntrustedFirst => "openssl-1.0.2",
        Lib::OpensslNoAltChains => "openssl-1.0.2-legacy",
        Lib::Mbedtls => "esp32-mbedtls-4k",
        Lib::Wolfssl => "wolfssl",
        Lib::Go => "go",
        Lib::Java => "jdk-17",
        Lib::Gnutls => "gnutls",
    }
}

/// Cells where the model and the library are known to differ, with both
/// verdicts (lib, cell, model, library). Empty: every cell agrees. A
/// difference found later goes here with its explanation, and the README
/// says so.
const KNOWN: [(Lib, &str, &str, &str); 0] = [];

fn host(kind: ChainKind) -> String {
    match kind {
        ChainKind::Legacy => legacy_host("us-east-1"),
        _ => ats_host("us-east-1"),
    }
}

fn pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
}

fn at(clock: Clock) -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match clock {
        Clock::Now => now,
        Clock::Unset => 0,
        Clock::Ahead => now + AHEAD_DAYS * 86_400,
    }
}

fn device_clock(clock: Clock) -> DeviceClock {
    match clock {
        Clock::Now => DeviceClock::Exact,
        Clock::Unset => DeviceClock::Unset(0),
        Clock::Ahead => DeviceClock::Skew(AHEAD_DAYS * 86_400),
    }
}

/// Writes every chain, store and key, and lists the cells.
fn lab(dir: &Path) -> Vec<Cell> {
    let p = pki();
    for k in CHAINS {
        let served = p.chain(k);
        let text: String = served.certs.iter().map(|c| pem(c.as_ref())).collect();
        std::fs::write(dir.join(format!("{}.pem", k.name())), text).unwrap();
        let key = pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            served.key.secret_der().to_vec(),
        ));
        std::fs::write(dir.join(format!("{}.key", k.name())), key).unwrap();
    }
    for (name, roots) in STORES {
        let text: String = roots.iter().map(|r| pem(p.cert(*r).as_ref())).collect();
        std::fs::write(dir.join(format!("ca-{name}.pem")), text).unwrap();
    }
    let mut cells = Vec::new();
    for clock in CLOCKS {
        for k in CHAINS {
            for (store, _) in STORES {
                cells.push(Cell {
                    id: format!("{}|{store}|{}", k.name(), clock.label()),
                    chain: dir.join(format!("{}.pem", k.name())),
                    ca: dir.join(format!("ca-{store}.pem")),
                    at: at(clock),
                    clock,
                    host: host(k),
                    key: dir.join(format!("{}.key", k.name())),
                });
            }
        }
    }
    cells
}

/// The class a library would name for a cause.
fn class(c: &VerifyCause) -> &'static str {
    match c {
        VerifyCause::UnknownIssuer | VerifyCause::UnknownIssuerNoAltChains => "unknown_issuer",
        VerifyCause::Expired | VerifyCause::ExpiredAtClock(_) => "expired",
        VerifyCause::NotYetValid | VerifyCause::NotYetValidAtClock(_) => "not_yet_valid",
        VerifyCause::NameMismatch => "name_mismatch",
        _ => "other",
    }
}

/// The model's verdict on a chain, with `rules` over trust profile `store`.
fn model_verdict(
    rules: ValidationRules,
    store: &str,
    kind: ChainKind,
) -> Result<(), VerifyFailure> {
    let v = ChainVerifier::new(profile(store)).with_rules(rules);
    let served = pki().chain(kind);
    let name = rustls_pki_types::ServerName::try_from(host(kind)).unwrap();
    v.verify(&served.certs[0], &served.certs[1..], &name, UnixTime::now())
        .map(|_| ())
}

/// The path rules of `model` at `clock`: no pins and no buffer, which no
/// library applies while verifying a chain.
fn path_rules(model: &DeviceModel, clock: Clock) -> ValidationRules {
    ValidationRules {
        clock: device_clock(clock),
        pins: vec![],
        input_buffer: None,
        ..model.rules(pki())
    }
}

fn agrees(lib: Lib, model: &str, real: &Verdict) -> bool {
    if lib.reports_all_flags() && model != "ok" {
        return real.contains(model);
    }
    real.len() == 1 && real.contains(model)
}

#[test]
fn models_match_the_real_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let cells = lab(dir.path());
    let mut mismatches = Vec::new();
    let mut per_lib = BTreeMap::new();
    let mut results: HashMap<Lib, HashMap<String, Verdict>> = HashMap::new();
    for lib in Lib::ALL {
        let real = verdicts(lib, &cells, dir.path());
        let model = DeviceModel::named(model_for(lib));
        let mut compared = 0;
        for (i, cell) in cells.iter().enumerate() {
            let k = CHAINS[(i / STORES.len()) % CHAINS.len()];
            let (store, _) = STORES[i % STORES.len()];
            let ours = match model_verdict(path_rules(&model, cell.clock), store, k) {
                Ok(()) => "ok",
                Err(f) => class(&f.cause),
            };
            let theirs = real
                .get(&cell.id)
                .unwrap_or_else(|| panic!("{}: no verdict for {}", lib.name(), cell.id));
            compared += 1;
            if !agrees(lib, ours, theirs) {
                let t: Vec<&str> = theirs.iter().map(String::as_str).collect();
                mismatches.push((lib, cell.id.clone(), ours.to_string(), t.join("+")));
            }
        }
        per_lib.insert(lib, compared);
        results.insert(lib, real);
    }
    for (lib, n) in &per_lib {
        println!("{:<45} {n} cells compared", lib.name());
    }
    let known: Vec<(Lib, String, String, String)> = KNOWN
        .iter()
        .map(|(l, id, m, r)| (*l, id.to_string(), m.to_string(), r.to_string()))
        .collect();
    assert_eq!(
        mismatches, known,
        "model vs library disagreements (lib, cell, model, library)"
    );
    check_readme_matrix(&render_matrix(&results));
}

/// A pin's SPKI SHA-256 is the RFC 7469 `pin-sha256` of the key, as
/// `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256`
/// computes it.
#[test]
fn pin_hashes_are_openssls_spki_digests() {
    use chainstorm::model::PinKey;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    for role in [
        Role::AtsRsaIntermediate,
        Role::AtsEccLeafM02,
        Role::AtsRsaRoot,
    ] {
        let cert = dir.path().join(format!("{}.pem", role.name()));
        std::fs::write(&cert, pem(pki().cert(role).as_ref())).unwrap();
        let pubkey = Command::new("openssl")
            .args(["x509", "-pubkey", "-noout", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        super::common::assert_ok(&pubkey);
        let mut der = Command::new("openssl")
            .args(["pkey", "-pubin", "-outform", "der"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        der.stdin.take().unwrap().write_all(&pubkey.stdout).unwrap();
        let der = der.wait_with_output().unwrap();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der.stdout);
        assert_eq!(
            PinKey::Cert(role).sha256(pki()),
            digest.as_ref(),
            "{}",
            role.name()
        );
    }
}

/// Short words for table cells.
fn short(v: &str) -> &str {
    match v {
        "unknown_issuer" => "issuer",
        "not_yet_valid" => "not yet valid",
        "name_mismatch" => "name",
        other => other,
    }
}

/// The model's own verdict at its own store and clock, with its buffer and
/// pins: what a fleet of that device would see.
fn own_verdict(m: &DeviceModel, kind: ChainKind) -> String {
    // The record is dropped before any certificate is looked at.
    let served = pki().chain(kind);
    let trust = m.trust.to_string();
    let v = ChainVerifier::new(profile(&trust)).with_rules(m.rules(pki()));
    if v.check_input_buffer(&served.certs[0], &served.certs[1..])
        .is_err()
    {
        return "buffer".into();
    }
    match model_verdict(m.rules(pki()), &trust, kind) {
        Ok(()) => "ok".into(),
        Err(f) => match f.cause {
            VerifyCause::UnknownIssuerNoAltChains => "issuer (no alt)".into(),
            VerifyCause::PinMismatch(t) => format!("pin ({})", t.label()),
            VerifyCause::Distrusted(p) => format!("distrusted ({p})"),
            c => short(class(&c)).to_string(),
        },
    }
}

/// Which library result stands beside a model in the README matrix.
fn library_of(model: &str) -> Option<Lib> {
    Some(match model {
        "openssl-3" => Lib::OpensslTrustedFirst,
        "openssl-1.0.2" => Lib::OpensslUntrustedFirst,
        "openssl-1.0.2-legacy" => Lib::OpensslNoAltChains,
        "esp32-mbedtls-4k" | "esp32-no-rtc" | "freertos-mbedtls" => Lib::Mbedtls,
        "wolfssl" => Lib::Wolfssl,
        "go" => Lib::Go,
        "jdk-17" => Lib::Java,
        "gnutls" => Lib::Gnutls,
        _ => return None,
    })
}

/// The named models: what each imitates, its parts, what checks it.
fn render_models() -> String {
    let mut out =
        String::from("| model | imitates | parts | checked against |\n|---|---|---|---|\n");
    for b in BUILTIN_MODELS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            b.name,
            b.imitates,
            b.model().parts_line(),
            b.checked_against
        ));
    }
    out
}

fn render_matrix(results: &HashMap<Lib, HashMap<String, Verdict>>) -> String {
    let models: Vec<DeviceModel> = BUILTIN_MODELS.iter().map(|b| b.model()).collect();
    let mut out = render_models();
    out.push_str(
        "\nEach model at its own trust store and clock against each chain the endpoint can \
         serve: the model's verdict · the real library's (— where no library applies).\n\n",
    );
    out.push_str("| chain served |");
    for m in &models {
        out.push_str(&format!(" `{}` |", m.name));
    }
    out.push_str("\n|---|");
    for _ in &models {
        out.push_str("---|");
    }
    out.push('\n');
    for k in CHAINS {
        out.push_str(&format!("| `{}` |", k.name()));
        for m in &models {
            let ours = own_verdict(m, k);
            // The library ran over plain stores; a profile with a distrust
            // policy is compared over the same roots without it.
            let trust = m.trust.to_string();
            let store = if trust == "jdk-8u212" {
                "dual"
            } else {
                trust.as_str()
            };
            let clock = match m.clock {
                DeviceClock::Unset(0) => Clock::Unset,
                _ => Clock::Now,
            };
            let theirs = library_of(&m.name)
                .and_then(|l| results[&l].get(&format!("{}|{store}|{}", k.name(), clock.label())))
                .map(|v| v.iter().map(|s| short(s)).collect::<Vec<_>>().join("+"))
                .unwrap_or_else(|| "—".into());
            out.push_str(&format!(" {ours} · {theirs} |"));
        }
        out.push('\n');
    }
    out
}

const BEGIN: &str = "<!-- device-matrix:begin (written by tests/it/device_models.rs) -->\n";
const END: &str = "<!-- device-matrix:end -->";

fn check_readme_matrix(matrix: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = readme
        .split_once(BEGIN)
        .expect("README has the device-matrix block");
    let (current, tail) = rest.split_once(END).expect("device-matrix block ends");
    if current == matrix {
        return;
    }
    if std::env::var_os("CHAINSTORM_BLESS").is_some() {
        std::fs::write(&path, format!("{head}{BEGIN}{matrix}{END}{tail}")).unwrap();
        return;
    }
    panic!(
        "README's device-model matrix differs from the measured one; rerun with \
         CHAINSTORM_BLESS=1 to rewrite it. Measured:\n{matrix}"
    );
}

/// Go checks the leaf's dates before anything else; the failure then names
/// the leaf's real notAfter, not the device's time twice.
#[test]
fn leaf_date_failures_name_the_certificates_bound() {
    let model = DeviceModel::named("go");
    let err = model_verdict(model.rules(pki()), "ats-ecc-only", ChainKind::Expired).unwrap_err();
    let leaf = chainstorm::pki::describe_cert(pki().cert(Role::ExpiredLeaf).as_ref()).unwrap();
    assert_eq!(class(&err.cause), "expired");
    assert!(
        err.message.contains(&format!(
            "expired at unix {}",
            leaf.not_after.unix_timestamp()
        )),
        "{}",
        err.message
    );
}
