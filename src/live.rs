//! Live metrics over HTTP: a small `/metrics` server for Prometheus. The
//! run (or `serve`) replaces the page once per tick; a scrape reads the
//! latest page, so scraping never touches the hot path.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The page a scrape returns, shared with the server thread.
#[derive(Clone, Default)]
pub struct Page(Arc<Mutex<String>>);

impl Page {
    /// Replaces the page.
    pub fn set(&self, text: String) {
        if let Ok(mut p) = self.0.lock() {
            *p = text;
        }
    }

    fn get(&self) -> String {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// A running `/metrics` server; stops when dropped.
pub struct MetricsServer {
    /// The address it listens on (with the port the system chose for `:0`).
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl MetricsServer {
    /// Listens on `addr` and serves `page` at `GET /metrics`.
    pub fn start(addr: SocketAddr, page: Page) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("chainstorm-metrics".into())
            .spawn(move || serve(listener, page, flag))?;
        Ok(MetricsServer { addr, stop })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(listener: TcpListener, page: Page, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let response = if request.starts_with("GET /metrics") {
                    let body = page.get();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .into()
                };
                let _ = s.write_all(response.as_bytes());
            }
            // Polled: a stop is seen within 50 ms, and the thread owns no
            // other resource.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
