//! End-to-end tests of the `jobwait` binary: each test starts its own simulator in this process
//! (or none), runs the real binary as a subprocess with a cleared environment, and checks exit
//! codes, standard output/error and the JSON report against the interface contract.

mod architecture;
mod cce;
mod clouds_yaml;
mod criteria;
mod demo;
mod described;
mod dist;
mod github_action;
mod hostile_api;
mod hostile_outputs;
mod iam;
mod orchestrators;
mod parsers;
mod proxy;
mod rds;
mod reports;
mod resilience;
mod shapes;
mod signals;
mod snapshots;
mod spec_errors;
mod spec_layering;
mod support;
mod tls;
mod wait;
