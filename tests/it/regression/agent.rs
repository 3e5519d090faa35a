//! Bugs of the agent loop, on paused tokio time with the agent tests' clock and hooks:
//! what the loop does when the schedule has no future tick or the destination is down.

use std::sync::Arc;
use std::time::Duration;

use logferry::{Event, Store};

use crate::agent::{env_every_10s, env_with, start, Running};
use crate::common::FaultStore;

// Pins: with no future tick, a stop after a nudged pass was ignored.
#[tokio::test(start_paused = true)]
async fn a_schedule_without_future_ticks_still_takes_nudges_and_stops() {
    let env = env_with("schedule = \"0 0 0 1 1 * 2020\"\ntimezone = \"UTC\"");
    env.write("a.log", b"a\n");
    let Running {
        clock: _,
        rec,
        tx,
        task,
    } = start(&env, Arc::clone(&env.store));
    tokio::time::sleep(Duration::from_secs(5)).await;
    tx.send(Event::RunNow("test")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    tx.send(Event::Stop).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the agent stops")
        .unwrap()
        .unwrap();
    assert_eq!(
        rec.passes.lock().unwrap().len(),
        2,
        "the first pass, then the nudged one"
    );
}

/// A destination that did not answer at start ended the agent. It is now
/// asked again with backoff, and the agent is ready (and passes run) once it answers.
// Pins: a destination down when the agent started ended the agent.
#[tokio::test(start_paused = true)]
async fn a_destination_down_at_start_is_retried_with_backoff_until_it_answers() {
    let env = env_every_10s();
    env.write("a.log", b"a\n");
    let faulty = FaultStore::wrap(&env.store);
    faulty
        .failing_lists
        .store(4, std::sync::atomic::Ordering::SeqCst);
    let store: Store = faulty;
    let Running {
        clock: _,
        rec,
        tx,
        task,
    } = start(&env, store);
    tokio::time::sleep(Duration::from_secs(14)).await;
    assert!(
        !*rec.ready.lock().unwrap(),
        "not ready while the destination is down"
    );
    assert!(rec.passes.lock().unwrap().is_empty());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        *rec.retries.lock().unwrap(),
        [1, 2, 4, 8].map(Duration::from_secs),
        "backoff doubles"
    );
    assert!(
        *rec.ready.lock().unwrap(),
        "ready once it answered (after 15 s)"
    );
    assert_eq!(
        rec.passes.lock().unwrap().len(),
        1,
        "the first pass runs at once"
    );
    assert_eq!(rec.passes.lock().unwrap()[0].files_uploaded, 1);
    tx.send(Event::Stop).await.unwrap();
    task.await.unwrap().unwrap();
}
