//! `chainstorm fuzz` and `chainstorm fuzz replay`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use chainstorm::client::ClientOptions;
use chainstorm::endpoint::{Endpoint, EndpointConfig, EndpointHandle};
use chainstorm::fuzzer::campaign::{self, AnyCase, Campaign, CaseOp, Layer, Report};
use chainstorm::pki::PkiBundle;
use chainstorm::safety::check_target;
use chainstorm::signal::Signals;
use chainstorm::trust::TrustProfile;
use chainstorm::ui::fuzz::LiveFuzz;

use crate::args::{FuzzArgs, FuzzCommand};

/// Runs the verb.
pub fn fuzz(a: FuzzArgs) -> Result<ExitCode> {
    if let Some(FuzzCommand::Replay { file, target }) = &a.replay {
        return replay(&a, file, *target);
    }
    // The embedded endpoint runs on its own runtime and threads.
    let endpoint_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (target, endpoint) = target(&a, &endpoint_rt)?;
    let second = match &a.differential {
        None => None,
        Some(t) => {
            let t: SocketAddr = t
                .parse()
                .with_context(|| format!("--differential {t:?}: expected HOST:PORT"))?;
            check_target(t, a.allow_remote)?;
            Some(t)
        }
    };
    let out = chainstorm::results::create_run_dir(&a.output, "fuzz")?;
    let c = Campaign {
        target,
        sni: a.sni.clone(),
        cases: a.cases,
        duration: a.duration_s.map(Duration::from_secs_f64),
        concurrency: usize::from(a.concurrency),
        seed: a.seed,
        timeout: Duration::from_secs_f64(a.timeout_s),
        health_every: a.health_every,
        out: out.clone(),
        mqtt: if a.mqtt { Some(mqtt_config(&a)?) } else { None },
        second,
    };
    // Ctrl-C / SIGTERM stop the campaign after the current batch; the
    // report and everything found so far are still written.
    let stop = Arc::new(AtomicBool::new(false));
    let signals = {
        let stop = stop.clone();
        Signals::install(move |_| {
            eprintln!("chainstorm fuzz: stopping after this batch, then writing results");
            stop.store(true, Ordering::SeqCst);
        })
        .context("installing the signal handlers")?
    };
    let (report, interrupted) = run_campaign(&a, c, target, &stop)?;
    if interrupted {
        signals.note_interrupt();
    }
    if let Some(h) = endpoint {
        let counters = h.counters().snapshot();
        endpoint_rt.block_on(h.shutdown(Duration::from_secs(2)));
        eprintln!(
            "embedded endpoint: {} accepted, {} handshakes, {} unknown names, {} failed handshakes",
            counters.accepted,
            counters.handshakes_total(),
            counters.unknown_name,
            counters.handshake_failed
        );
    }
    outln!("{}", report.render_text(&out));
    if let Some(code) = check_baseline(&a, &report)? {
        return Ok(code);
    }
    Ok(if let Some(code) = signals.exit_code() {
        ExitCode::from(code)
    } else if report.target_went_down() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The embedded endpoint (started here) or the `--target` address.
fn target(
    a: &FuzzArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<(SocketAddr, Option<EndpointHandle>)> {
    if a.target == "embedded" {
        let pki = PkiBundle::load_or_cache(None)?;
        let h = rt.block_on(Endpoint::start(
            EndpointConfig::mqtt("127.0.0.1:0".parse()?),
            &pki,
        ))?;
        return Ok((h.addrs()[0].1, Some(h)));
    }
    let t: SocketAddr = a
        .target
        .parse()
        .with_context(|| format!("--target {:?}: expected `embedded` or HOST:PORT", a.target))?;
    check_target(t, a.allow_remote)?;
    Ok((t, None))
}

/// Runs the campaign with the live view on a terminal, else progress
/// lines on stderr; returns the report and whether Ctrl-C stopped it.
fn run_campaign(
    a: &FuzzArgs,
    c: Campaign,
    target: SocketAddr,
    stop: &AtomicBool,
) -> Result<(Report, bool)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let total = a.cases;
    let live = !a.no_tui && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let mut view = live.then(|| LiveFuzz::start(target.to_string(), total));
    let every = Duration::from_secs_f64(a.progress_s.max(0.0));
    let mut last = std::time::Instant::now();
    let result = rt.block_on(campaign::run_with(c, |r| {
        if let Some(v) = view.as_mut() {
            if !v.on_batch(r) {
                stop.store(true, Ordering::SeqCst);
            }
        } else if !every.is_zero() && last.elapsed() >= every {
            // A progress line on stderr; stdout keeps the final report.
            last = std::time::Instant::now();
            eprintln!("{}", r.progress(total));
        }
        !stop.load(Ordering::SeqCst)
    }));
    let interrupted = view.as_ref().is_some_and(LiveFuzz::interrupted);
    drop(view);
    Ok((result.context("fuzz campaign")?, interrupted))
}

/// `--write-baseline` and `--baseline`: exit 1 when the class distribution
/// differs from the baseline.
fn check_baseline(a: &FuzzArgs, report: &Report) -> Result<Option<ExitCode>> {
    if let Some(p) = &a.write_baseline {
        std::fs::write(p, serde_json::to_string_pretty(&report.classes)?)
            .with_context(|| format!("{}: cannot write", p.display()))?;
    }
    let Some(p) = &a.baseline else {
        return Ok(None);
    };
    let text =
        std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
    let base =
        serde_json::from_str(&text).with_context(|| format!("{}: not a baseline", p.display()))?;
    match report.baseline_diff(&base) {
        Some(diff) => {
            outln!("{diff}");
            Ok(Some(ExitCode::from(1)))
        }
        None => {
            outln!("class distribution matches the baseline");
            Ok(None)
        }
    }
}

/// `fuzz replay FILE TARGET`: sends a stored case again. The metadata next
/// to the bytes says which layer (and MQTT version) the case is for.
fn replay(a: &FuzzArgs, file: &std::path::Path, target: SocketAddr) -> Result<ExitCode> {
    check_target(target, a.allow_remote)?;
    let bytes = std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?;
    let meta: serde_json::Value = std::fs::read_to_string(file.with_extension("json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let layer: Layer = match meta.get("layer") {
        None => Layer::Tls,
        Some(l) => serde_json::from_value(l.clone()).with_context(|| {
            format!(
                "{}: layer {l} is not tls or {{\"mqtt\": VERSION}}",
                file.display()
            )
        })?,
    };
    let mqtt = match layer {
        Layer::Mqtt(_) => Some(mqtt_config(a)?),
        Layer::Tls => None,
    };
    let case = AnyCase {
        op: meta["operator"].as_str().and_then(CaseOp::from_name),
        detail: meta["detail"].as_str().unwrap_or_default().into(),
        bytes,
        layer,
        may_wait: false,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let class = rt.block_on(campaign::send_case(
        &case,
        target,
        &a.sni,
        mqtt.as_ref(),
        Duration::from_secs_f64(a.timeout_s),
    ));
    outln!("{} ({} bytes) -> {class}", file.display(), case.bytes.len());
    Ok(ExitCode::SUCCESS)
}

/// The client configuration of MQTT cases: a real handshake, verified with
/// the chosen trust profile against the PKI the endpoint serves.
fn mqtt_config(a: &FuzzArgs) -> Result<Arc<rustls::ClientConfig>> {
    let pki = PkiBundle::load_or_cache(a.pki.as_deref())?;
    let profile = TrustProfile::resolve(&a.profile, &pki)
        .with_context(|| format!("--profile {}", a.profile))?;
    let cfg = ClientOptions::default().build_for_profile(Arc::new(profile))?;
    Ok(Arc::new(cfg))
}
