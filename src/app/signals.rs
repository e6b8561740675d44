//! SIGINT and SIGTERM during a wait: the first stops it (the report is still written), a second
//! ends the process at once.

use tokio::sync::watch;

use crate::exit::{ExitStatus, Signal};
use crate::report;

/// SIGINT / SIGTERM stop the wait; a second signal ends the process at once.
pub(super) async fn forward_signals(interrupts: watch::Sender<Option<Signal>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!(
            "cannot listen for signals; SIGINT/SIGTERM will end the process without a report"
        );
        return;
    };
    let mut received = 0;
    loop {
        let sig = tokio::select! {
            _ = int.recv() => Signal::Interrupt,
            _ = term.recv() => Signal::Terminate,
        };
        received += 1;
        if received > 1 {
            let code = ExitStatus::decide(&report::Summary::default(), Some(sig)).code();
            std::process::exit(code);
        }
        tracing::warn!(
            "{} received: stopping the wait and writing the report",
            sig.name()
        );
        interrupts.send_replace(Some(sig));
    }
}
