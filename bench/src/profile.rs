//! `partner-bench profile`: link-customer (its twin with symbols) under callgrind and the Runtime
//! API emulator, once for init + the first invocation and once for init + 1 + N, so the report can
//! tell init from the steady-state cost of a request (bench/report.py reads both).

use crate::fixtures::World;
use crate::lambda::{check, event_file, link_event, Program, Running, Settings};
use crate::template::functions;
use crate::Error;
use std::path::PathBuf;
use std::time::Instant;

pub struct Options {
    pub binary: PathBuf,
    pub callgrind_prefix: PathBuf,
    pub out: PathBuf,
    pub invocations: usize,
}

pub async fn run(world: &World, s: &Settings, o: &Options) -> Result<(), Error> {
    let function = functions(&world.table)
        .into_iter()
        .find(|f| f.binary == "link-customer")
        .ok_or("link-customer is not in template.yaml")?;
    let customers = world.register(o.invocations + 2).await?;
    let template = event_file("link-customer.v2.json", world.org)?;
    let mut next = customers.iter();
    let mut runs = Vec::new();
    for (label, invocations) in [("init", 1usize), ("warm", 1 + o.invocations)] {
        let file = o.callgrind_prefix.with_extension(label);
        let program = Program::Ours {
            binary: o.binary.display().to_string(),
            function: function.clone(),
            wrapper: vec![
                "valgrind".into(),
                "--tool=callgrind".into(),
                format!("--callgrind-out-file={}", file.display()),
            ],
        };
        let started = Instant::now();
        let run = Running::start(&program, world, s).await?;
        for _ in 0..invocations {
            let c = next.next().ok_or("out of customers")?;
            check(None, &run.invoke(&link_event(&template, c)).await?)?;
        }
        run.terminate().await?;
        eprintln!(
            "  callgrind {label}: {invocations} invocation(s) in {:.1} s → {}",
            started.elapsed().as_secs_f64(),
            file.display()
        );
        runs.push(serde_json::json!({"label": label, "invocations": invocations, "file": file}));
    }
    let doc = serde_json::json!({
        "binary": "link-customer",
        "build": "link-customer-with-symbols: link-customer's main built with the release \
                  profile, symbols kept (x86_64)",
        "tool": "valgrind --tool=callgrind (instructions executed; perf has no hardware counters on this machine)",
        "warm_invocations": o.invocations, "runs": runs
    });
    std::fs::write(&o.out, serde_json::to_string_pretty(&doc)?)?;
    Ok(())
}
