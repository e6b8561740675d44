//! Engine tests with a scripted job source and paused time.
