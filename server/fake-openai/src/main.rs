//! `fake-openai [ADDR]`: serves the fake provider (default 127.0.0.1:0) and prints its base URL.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("http://{}/v1", listener.local_addr()?);
    fake_openai::serve(listener).await
}
