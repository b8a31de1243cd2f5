//! `strom group list|describe`: the consumer groups of a running server, asked over its
//! Kafka listener (ListGroups, DescribeGroups, OffsetFetch, ListOffsets) like
//! `kafka-consumer-groups.sh` does, with each partition's lag (log end minus committed).
//! A plain blocking client: one connection, one request at a time.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeGroupsRequest, GroupId, ListGroupsRequest, ListOffsetsRequest,
    OffsetFetchRequest, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use strom_broker::group::decode_assignment;

/// Versions used; all are served by Strom (and by Kafka 2.4+).
const LIST_GROUPS_VERSION: i16 = 4;
const DESCRIBE_GROUPS_VERSION: i16 = 5;
const OFFSET_FETCH_VERSION: i16 = 7;
const LIST_OFFSETS_VERSION: i16 = 5;
/// Largest response accepted.
const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// ListOffsets timestamp asking for the log end.
const LATEST: i64 = -1;

#[derive(clap::Subcommand)]
pub enum GroupCommand {
    /// List consumer groups with their state.
    List(Target),
    /// Show a group's members with their partitions, and committed offsets with lag.
    Describe {
        /// The group id.
        group: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(clap::Args)]
pub struct Target {
    /// Kafka address of the server.
    #[arg(long, env = "STROM_BOOTSTRAP", default_value = "localhost:9092")]
    bootstrap: String,
}

pub fn run(command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List(target) => list(&mut Client::connect(&target.bootstrap)?),
        GroupCommand::Describe { group, target } => {
            describe(&mut Client::connect(&target.bootstrap)?, &group)
        }
    }
}

struct Client {
    stream: TcpStream,
    correlation_id: i32,
}

impl Client {
    fn connect(bootstrap: &str) -> anyhow::Result<Client> {
        let stream = TcpStream::connect(bootstrap)
            .with_context(|| format!("cannot connect to {bootstrap}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client {
            stream,
            correlation_id: 0,
        })
    }

    fn call<R: Request>(&mut self, request: &R, version: i16) -> anyhow::Result<R::Response> {
        self.correlation_id += 1;
        let api =
            ApiKey::try_from(R::KEY).map_err(|_| anyhow::anyhow!("unknown API {}", R::KEY))?;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("strom-cli")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header.encode(&mut buf, R::header_version(version))?;
        request.encode(&mut buf, version)?;
        let len = i32::try_from(buf.len() - 4)?;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf)?;

        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = usize::try_from(i32::from_be_bytes(len)).context("negative response size")?;
        if len > MAX_RESPONSE_BYTES {
            bail!("{api:?} response of {len} bytes is too large");
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        let mut body = Bytes::from(body);
        let header = ResponseHeader::decode(&mut body, R::Response::header_version(version))?;
        if header.correlation_id != self.correlation_id {
            bail!("{api:?} response has the wrong correlation id");
        }
        let response = R::Response::decode(&mut body, version)?;
        if body.has_remaining() {
            tracing::debug!(api = ?api, left = body.remaining(), "response has trailing bytes");
        }
        Ok(response)
    }
}

fn error(code: i16) -> String {
    kafka_protocol::ResponseError::try_from_code(code).map_or_else(String::new, |e| e.to_string())
}

fn list(client: &mut Client) -> anyhow::Result<()> {
    let response = client.call(&ListGroupsRequest::default(), LIST_GROUPS_VERSION)?;
    if response.error_code != 0 {
        bail!("ListGroups failed: {}", error(response.error_code));
    }
    let mut groups: Vec<_> = response.groups;
    groups.sort_by(|a, b| a.group_id.0.cmp(&b.group_id.0));
    println!("{:<40} {:<20} PROTOCOL-TYPE", "GROUP", "STATE");
    for g in groups {
        println!(
            "{:<40} {:<20} {}",
            g.group_id.as_str(),
            g.group_state.as_str(),
            g.protocol_type.as_str()
        );
    }
    Ok(())
}

fn describe(client: &mut Client, group: &str) -> anyhow::Result<()> {
    let group_id = GroupId(StrBytes::from_string(group.to_string()));
    let described = client.call(
        &DescribeGroupsRequest::default().with_groups(vec![group_id.clone()]),
        DESCRIBE_GROUPS_VERSION,
    )?;
    let Some(g) = described.groups.into_iter().next() else {
        bail!("DescribeGroups returned no group");
    };
    if g.error_code != 0 {
        bail!("DescribeGroups failed: {}", error(g.error_code));
    }
    println!(
        "group {group}: state {}, protocol {} {}",
        g.group_state.as_str(),
        g.protocol_type.as_str(),
        g.protocol_data.as_str()
    );
    // Which member owns each partition (only a consumer-protocol assignment can be read).
    let mut owner: BTreeMap<(String, i32), String> = BTreeMap::new();
    if !g.members.is_empty() {
        println!(
            "\n{:<50} {:<20} {:<16} PARTITIONS",
            "MEMBER", "CLIENT-ID", "HOST"
        );
    }
    for m in &g.members {
        let assignment = decode_assignment(&m.member_assignment).unwrap_or_default();
        let partitions: Vec<String> = assignment
            .partitions
            .iter()
            .map(|(topic, ps)| format!("{topic}{ps:?}"))
            .collect();
        for (topic, ps) in &assignment.partitions {
            for p in ps {
                owner.insert((topic.clone(), *p), m.member_id.to_string());
            }
        }
        println!(
            "{:<50} {:<20} {:<16} {}",
            m.member_id.as_str(),
            m.client_id.as_str(),
            m.client_host.as_str(),
            partitions.join(" ")
        );
    }

    let fetched = client.call(
        &OffsetFetchRequest::default()
            .with_group_id(group_id)
            .with_topics(None),
        OFFSET_FETCH_VERSION,
    )?;
    if fetched.error_code != 0 {
        bail!("OffsetFetch failed: {}", error(fetched.error_code));
    }
    let committed: Vec<(String, i32, i64)> = fetched
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.0.to_string(), p.partition_index, p.committed_offset))
        })
        .collect();
    if committed.is_empty() {
        println!("\nno committed offsets");
        return Ok(());
    }
    let ends = log_ends(client, &committed)?;
    println!(
        "\n{:<30} {:>9} {:>16} {:>16} {:>10}  MEMBER",
        "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG"
    );
    for (topic, partition, offset) in committed {
        let end = ends.get(&(topic.clone(), partition)).copied();
        let lag = end.map_or("-".to_string(), |e| (e - offset).max(0).to_string());
        let end = end.map_or("-".to_string(), |e| e.to_string());
        let member = owner
            .get(&(topic.clone(), partition))
            .map_or("-", |m| m.as_str());
        println!("{topic:<30} {partition:>9} {offset:>16} {end:>16} {lag:>10}  {member}");
    }
    Ok(())
}

/// The log end offset (high watermark) of each committed partition.
fn log_ends(
    client: &mut Client,
    partitions: &[(String, i32, i64)],
) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition, _) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    let topics = by_topic
        .into_iter()
        .map(|(topic, ps)| {
            ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    ps.into_iter()
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_timestamp(LATEST)
                        })
                        .collect(),
                )
        })
        .collect();
    let response = client.call(
        &ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(topics),
        LIST_OFFSETS_VERSION,
    )?;
    let mut ends = BTreeMap::new();
    for t in response.topics {
        for p in t.partitions {
            if p.error_code == 0 {
                ends.insert((t.name.0.to_string(), p.partition_index), p.offset);
            }
        }
    }
    Ok(ends)
}
