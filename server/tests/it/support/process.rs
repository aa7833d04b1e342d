//! `TestProcess`: the real `confab` binary as a child process, for what only a process can
//! show: being killed with SIGKILL, stopped with SIGTERM, and started again on the same data.

use std::process::{Command, ExitStatus};
use std::time::Duration;

use confab_testdata::{ChildProcess, Finished};

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
    /// The current process, killed when dropped.
    process: ChildProcess,
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
        Self::launch_on(data, env).await
    }

    async fn launch_on(data: TestData, env: Vec<(String, String)>) -> TestProcess {
        let (process, url) = launch(&data, &env).await;
        TestProcess {
            url,
            data,
            env,
            process,
        }
    }

    /// A second process on this one's data (its data directory and database) and
    /// environment: another node of the same service.
    pub async fn another_on_the_same_data(&self) -> TestProcess {
        let mut env = self.env.clone();
        env.extend(
            self.data
                .env()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value)),
        );
        // Data of its own that it never uses: `env` points it at this one's.
        Self::launch_on(TestData::fresh(self.data.backend), env).await
    }

    /// A new browser-like client of this process.
    pub fn client(&self) -> Client_ {
        Client_::browser(&self.url)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Kills the process with SIGKILL (no chance to finish anything) and reaps it.
    pub fn kill_9(&mut self) {
        self.process.kill();
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
        self.process.wait_exit(timeout).await
    }

    /// Starts a new process on the same data and environment, at a new address. One still
    /// running is first stopped with SIGTERM (60 s at most).
    pub async fn restart(&mut self) {
        if self.process.exited().is_none() {
            self.terminate();
            if self.wait_exit(Duration::from_secs(60)).await.is_none() {
                self.process.fail("did not stop within 60 s of SIGTERM");
            }
        }
        let (process, url) = launch(&self.data, &self.env).await;
        self.process = process;
        self.url = url;
    }

    /// What the current process printed so far.
    pub fn output(&self) -> String {
        self.process.output()
    }
}

/// The `confab` binary, for a command to give its arguments and environment.
pub fn confab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_confab"))
}

/// Runs `command` (a [`confab`] command) to its end, which must come within 60 s.
pub async fn run_to_end(command: Command) -> Finished {
    ChildProcess::spawn("confab", command, "")
        .finish(START_TIMEOUT)
        .await
}

/// Waits (60 s at most) until `process`, a `confab serve`, prints that it listens, and
/// returns the URL it printed.
pub async fn listening_url(process: &mut ChildProcess) -> String {
    process
        .wait_for_line(START_TIMEOUT, |line| {
            line.strip_prefix(RUNNING)
                .map(|url| url.trim_end_matches('/').to_owned())
        })
        .await
}

/// Spawns `confab serve` on a port of its choosing; returns it with its URL once it answers
/// `/api/health`.
async fn launch(data: &TestData, env: &[(String, String)]) -> (ChildProcess, String) {
    let mut command = confab();
    command
        .arg("serve")
        .env("CONFAB_ADDR", "127.0.0.1:0")
        .env("CONFAB_LOG", "warn");
    for (name, value) in data.env() {
        command.env(name, value);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut process = ChildProcess::spawn("confab", command, "");
    let url = listening_url(&mut process).await;
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if reqwest::get(format!("{url}/api/health"))
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return (process, url);
        }
        if tokio::time::Instant::now() >= deadline {
            process.fail(&format!("at {url}: /api/health never answered 200"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
