//! The one way the tests run a child process (the `confab` binary, the OpenID provider, nginx,
//! Caddy, Python, a test binary measuring alone): stdin closed, stdout and stderr read on
//! threads as they come (a child never blocks on a full pipe, and a closed pipe never kills
//! it), killed and reaped when dropped, waited for with a timeout, and what it printed at hand
//! for the message of a test that fails.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(20);

/// A running child process, killed and reaped when dropped.
pub struct ChildProcess {
    /// What failure messages call it (`confab`, `nginx`, …).
    name: String,
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Stdout's lines, each sent as it is read.
    lines: Receiver<String>,
    readers: Vec<JoinHandle<()>>,
}

/// How a child that ran to its end ended, and all it printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ChildProcess {
    /// Starts `command`, called `name` in failure messages. A command that cannot start fails
    /// the test, with `hint` (what to install, say) after the error.
    pub fn spawn(name: &str, mut command: Command, hint: &str) -> ChildProcess {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("{name} does not start ({error}). {hint}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (send, lines) = mpsc::channel();
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let kept = Arc::clone(&stdout);
        let stdout_reader = std::thread::spawn(move || {
            let mut line = Vec::new();
            while out.read_until(b'\n', &mut line).is_ok_and(|read| read > 0) {
                lock(&kept).extend_from_slice(&line);
                let _ = send.send(String::from_utf8_lossy(&line).trim_end().to_owned());
                line.clear();
            }
        });
        let mut err = child.stderr.take().expect("piped stderr");
        let kept = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buffer = [0; 8192];
            while let Ok(read @ 1..) = err.read(&mut buffer) {
                lock(&kept).extend_from_slice(&buffer[..read]);
            }
        });
        ChildProcess {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
            lines,
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the first line on stdout that `find` picks something from,
    /// and returns that. A child that exits first, or is still silent after `timeout`, fails
    /// the test (killed first), with what it printed.
    pub async fn wait_for_line<T>(
        &mut self,
        timeout: Duration,
        mut find: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match self.lines.try_recv() {
                Ok(line) => {
                    if let Some(found) = find(&line) {
                        return found;
                    }
                    continue;
                }
                Err(TryRecvError::Disconnected) => {
                    let status = self.wait_exit(Duration::from_secs(1)).await;
                    self.fail(&format!(
                        "closed its stdout (exit: {status:?}) before printing the line awaited"
                    ));
                }
                Err(TryRecvError::Empty) => {}
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "did not print the line awaited within {timeout:?}"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The first line on stdout (waited for as [`ChildProcess::wait_for_line`]).
    pub async fn first_line(&mut self, timeout: Duration) -> String {
        self.wait_for_line(timeout, |line| Some(line.to_owned()))
            .await
    }

    /// How the child exited, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits until the child exits; `None` when it is still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits up to `timeout` for the child to end, and returns how it ended and all it
    /// printed; one still running then fails the test (killed first).
    pub async fn finish(mut self, timeout: Duration) -> Finished {
        let Some(status) = self.wait_exit(timeout).await else {
            self.fail(&format!("did not finish within {timeout:?}"));
        };
        // The pipes close when the child has gone (unless it left a child of its own holding
        // them): every byte it wrote is read once the readers end.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }

    /// Kills the child with SIGKILL (no chance to finish anything) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the child and fails the test with `message` and what the child printed.
    pub fn fail(&mut self, message: &str) -> ! {
        self.kill();
        panic!("{} {message}:\n{}", self.name, self.output());
    }

    /// What the child wrote to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stdout)).into_owned()
    }

    /// What the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// Both, for a failure message.
    pub fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout(),
            self.stderr()
        )
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn lock(buffer: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    buffer.lock().unwrap_or_else(PoisonError::into_inner)
}
