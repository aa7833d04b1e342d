//! `TestProcess`: the real `confab` binary as a child process, for what only a process can
//! show: being killed with SIGKILL, stopped with SIGTERM, and started again on the same data.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::data::{Backend, TestData};
use super::Client_;

/// What `confab serve` prints once it listens.
const RUNNING: &str = "Confab is running at ";
/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct TestProcess {
    /// `http://127.0.0.1:PORT` of the running process (a new port after each restart).
    pub url: String,
    pub data: TestData,
    env: Vec<(String, String)>,
    child: Child,
    /// The current process's stdout and stderr.
    log: PathBuf,
    starts: usize,
}

impl TestProcess {
    /// Starts `confab serve` on fresh data on `backend`, with `env` added to its environment
    /// (`CONFAB_LOG` defaults to `warn`), and waits until `/api/health` answers 200.
    pub async fn start(backend: Backend, env: &[(&str, &str)]) -> TestProcess {
        Self::start_on(TestData::fresh(backend), env).await
    }

    /// The same on existing data.
    pub async fn start_on(data: TestData, env: &[(&str, &str)]) -> TestProcess {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let (child, log, url) = launch(&data, &env, 0).await;
        TestProcess {
            url,
            data,
            env,
            child,
            log,
            starts: 1,
        }
    }

    /// A new browser-like client of this process.
    pub fn client(&self) -> Client_ {
        Client_::browser(&self.url)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL (no chance to finish anything) and reaps it.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM: the process stops taking requests and finishes what is in flight.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits until the process exits; `None` when it is still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts a new process on the same data and environment, at a new address. One still
    /// running is first stopped with SIGTERM (60 s at most).
    pub async fn restart(&mut self) {
        if self.child.try_wait().expect("try_wait").is_none() {
            self.terminate();
            assert!(
                self.wait_exit(Duration::from_secs(60)).await.is_some(),
                "confab did not stop within 60 s of SIGTERM:\n{}",
                self.output()
            );
        }
        let (child, log, url) = launch(&self.data, &self.env, self.starts).await;
        self.child = child;
        self.log = log;
        self.url = url;
        self.starts += 1;
    }

    /// What the current process printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TestProcess {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// Spawns `confab serve` on a port of its choosing; returns it with its log file and URL once
/// it answers `/api/health`.
async fn launch(
    data: &TestData,
    env: &[(String, String)],
    start: usize,
) -> (Child, PathBuf, String) {
    let log = data.dir.path().join(format!("confab-{start}.log"));
    let stdout = File::create(&log).expect("create the log file");
    let stderr = stdout.try_clone().expect("clone the log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_confab"));
    command
        .arg("serve")
        .env("CONFAB_ADDR", "127.0.0.1:0")
        .env("CONFAB_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for (name, value) in data.env() {
        command.env(name, value);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the confab binary starts");
    let deadline = Instant::now() + START_TIMEOUT;
    let output = || std::fs::read_to_string(&log).unwrap_or_default();
    let url = loop {
        if let Some(url) = output().lines().find_map(|line| line.strip_prefix(RUNNING)) {
            break url.trim_end_matches('/').to_owned();
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("confab exited ({status}) before listening:\n{}", output());
        }
        if Instant::now() >= deadline {
            give_up(
                &mut child,
                format!(
                    "confab did not listen within {START_TIMEOUT:?}:\n{}",
                    output()
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    loop {
        if reqwest::get(format!("{url}/api/health"))
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return (child, log, url);
        }
        if Instant::now() >= deadline {
            give_up(
                &mut child,
                format!("{url}/api/health never answered 200:\n{}", output()),
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fails the test without leaving the process behind.
fn give_up(child: &mut Child, message: String) -> ! {
    let _ = child.kill();
    let _ = child.wait();
    panic!("{message}");
}
