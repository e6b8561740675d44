//! SIGINT and SIGTERM during a wait: the first stops it (the report is still written), a second
//! ends the process at once.

use tokio::sync::watch;

use crate::exit::{ExitStatus, Signal};
use crate::report;

/// SIGINT / SIGTERM stop the wait; a second signal ends the process at once.
///
/// The handlers are installed when this is called, not when the returned future first runs: a
/// spawned task runs only when the caller yields, and a request can be out (an IAM lookup that
/// a test or an orchestrator sees and answers with SIGTERM) before that — the signal's default
/// action would then kill the process without a report.
pub(super) fn forward_signals(
    interrupts: watch::Sender<Option<Signal>>,
) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let streams = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    async move { forward(streams, interrupts).await }
}

async fn forward(
    streams: (
        std::io::Result<tokio::signal::unix::Signal>,
        std::io::Result<tokio::signal::unix::Signal>,
    ),
    interrupts: watch::Sender<Option<Signal>>,
) {
    let (Ok(mut int), Ok(mut term)) = streams else {
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
