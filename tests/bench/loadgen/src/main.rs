//! Kafka load generator on librdkafka (the `rdkafka` crate) for `tests/bench/kafka_bench.py`:
//! produces N records of S bytes to a topic's partitions round-robin, or consumes a topic's
//! partitions from the beginning until N records arrived, and prints one JSON line with the
//! elapsed seconds. No per-record work beyond what librdkafka itself does, so the figures are
//! the server's and librdkafka's, not a scripting language's. `fanout` is the HTTP side's
//! counterpart: many SSE subscribers in one compiled process (see `fanout.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod fanout;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    #[arg(long)]
    count: u64,
    /// Extra librdkafka settings, `key=value`.
    #[arg(short = 'X')]
    extra: Vec<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Produce {
        #[arg(long)]
        size: usize,
        #[arg(long, default_value = "1")]
        acks: String,
        /// Idempotent producer (librdkafka requires acks=all for it).
        #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
        idempotence: bool,
    },
    Consume,
    /// SSE subscribers on `--url` (the topic's feed); `--count` events each.
    Fanout {
        #[arg(long)]
        url: String,
        #[arg(long)]
        last_event_id: String,
        #[arg(long)]
        subscribers: usize,
    },
}

#[derive(Default)]
struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// The client settings: `defaults`, then the command line's `-X` overrides.
fn config(args: &Args, defaults: &[(&str, &str)]) -> anyhow::Result<ClientConfig> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &args.bootstrap);
    for (k, v) in defaults {
        c.set(*k, *v);
    }
    for kv in &args.extra {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("-X takes key=value, got {kv}");
        };
        c.set(k, v);
    }
    Ok(c)
}

fn produce(args: &Args, size: usize, acks: &str, idempotence: bool) -> anyhow::Result<f64> {
    let idempotence = idempotence.to_string();
    let producer: BaseProducer<Counting> = config(
        args,
        &[
            ("acks", acks),
            ("enable.idempotence", &idempotence),
            ("linger.ms", "5"),
            ("batch.size", "1048576"),
            ("queue.buffering.max.messages", "1000000"),
            ("queue.buffering.max.kbytes", "1048576"),
            ("compression.type", "none"),
        ],
    )?
    .create_with_context(Counting::default())
    .context("create producer")?;
    let value = vec![0x5au8; size];
    let start = Instant::now();
    for i in 0..args.count {
        let partition = (i % args.partitions as u64) as i32;
        loop {
            let record = BaseRecord::<(), [u8]>::to(&args.topic)
                .payload(&value)
                .partition(partition);
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => bail!("produce failed: {e}"),
            }
        }
        if i % 4096 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .context("flush did not finish")?;
    let elapsed = start.elapsed().as_secs_f64();
    let ctx = producer.context();
    let (ok, failed) = (
        ctx.delivered.load(Ordering::Relaxed),
        ctx.failed.load(Ordering::Relaxed),
    );
    if ok != args.count || failed != 0 {
        bail!("{ok} of {} delivered, {failed} failed", args.count);
    }
    Ok(elapsed)
}

fn consume(args: &Args) -> anyhow::Result<(f64, u64)> {
    let consumer: BaseConsumer = config(
        args,
        &[
            ("group.id", "strom-loadgen"),
            ("enable.auto.commit", "false"),
            ("fetch.max.bytes", "52428800"),
            ("max.partition.fetch.bytes", "8388608"),
            ("queued.max.messages.kbytes", "262144"),
        ],
    )?
    .create()
    .context("create consumer")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..args.partitions {
        tpl.add_partition_offset(&args.topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let (mut got, mut bytes) = (0u64, 0u64);
    // The clock starts at the first record: connecting and finding the start offsets are
    // not throughput.
    let mut start: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while got < args.count {
        if Instant::now() > deadline {
            bail!("consumed {got} of {}", args.count);
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                start.get_or_insert_with(Instant::now);
                got += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => bail!("consume failed: {e}"),
            None => {}
        }
    }
    let elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
    Ok((elapsed.as_secs_f64(), bytes))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match &args.cmd {
        Cmd::Produce {
            size,
            acks,
            idempotence,
        } => {
            let s = produce(&args, *size, acks, *idempotence)?;
            println!("{{\"seconds\": {s}, \"records\": {}}}", args.count);
        }
        Cmd::Fanout {
            url,
            last_event_id,
            subscribers,
        } => fanout::run(fanout::Fanout {
            url: url.clone(),
            last_event_id: last_event_id.clone(),
            subscribers: *subscribers,
            messages: args.count as usize,
        })?,
        Cmd::Consume => {
            let (s, bytes) = consume(&args)?;
            println!(
                "{{\"seconds\": {s}, \"records\": {}, \"bytes\": {bytes}}}",
                args.count
            );
        }
    }
    Ok(())
}
