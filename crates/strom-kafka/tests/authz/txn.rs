//! The authorization matrix for the transaction APIs, through a whole transaction against the
//! real transaction coordinator: InitProducerId with a transactional id, AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit and EndTxn need Write on the transactional id (53),
//! AddPartitionsToTxn Write on each topic and TxnOffsetCommit Read on each topic (29);
//! DescribeTransactions needs Describe on each id (53), ListTransactions leaves out ids the
//! caller may not describe, and DescribeProducers needs Read on the topic (29).

use kafka_protocol::messages::*;

use super::{group, s, start, topic, Client, ALLOWED_IP, DENIED_IP, PARTIAL_IP};

const TXN_AUTH_FAILED: i16 = 53;
const TOPIC_AUTH_FAILED: i16 = 29;

fn init(id: &str) -> RequestKind {
    RequestKind::InitProducerId(
        InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(id))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    )
}

fn add_partitions(id: &str, (pid, epoch): (i64, i16)) -> RequestKind {
    RequestKind::AddPartitionsToTxn(
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(s(id)))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![
                add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                    .with_name(topic("t"))
                    .with_partitions(vec![0]),
            ]),
    )
}

fn add_offsets(id: &str, (pid, epoch): (i64, i16)) -> RequestKind {
    RequestKind::AddOffsetsToTxn(
        AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(s(id)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_group_id(group("g")),
    )
}

fn offset_commit(id: &str, (pid, epoch): (i64, i16)) -> RequestKind {
    use txn_offset_commit_request::*;
    RequestKind::TxnOffsetCommit(
        TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(s(id)))
            .with_group_id(group("g"))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_generation_id(-1)
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(topic("t"))
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(0)])]),
    )
}

fn end(id: &str, (pid, epoch): (i64, i16)) -> RequestKind {
    RequestKind::EndTxn(
        EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s(id)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(true),
    )
}

fn describe(ids: &[&str]) -> RequestKind {
    RequestKind::DescribeTransactions(
        DescribeTransactionsRequest::default()
            .with_transactional_ids(ids.iter().map(|id| TransactionalId(s(id))).collect()),
    )
}

fn list() -> RequestKind {
    RequestKind::ListTransactions(ListTransactionsRequest::default().with_duration_filter(-1))
}

fn producers() -> RequestKind {
    RequestKind::DescribeProducers(DescribeProducersRequest::default().with_topics(vec![
        describe_producers_request::TopicRequest::default()
            .with_name(topic("t"))
            .with_partition_indexes(vec![0]),
    ]))
}

/// The error codes of an answer, in order; for DescribeTransactions (id, state) and for
/// ListTransactions the listed ids are in [`listed`].
fn codes(response: &ResponseKind) -> Vec<i16> {
    use ResponseKind as R;
    match response {
        R::InitProducerId(i) => vec![i.error_code],
        R::AddPartitionsToTxn(a) => a
            .results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| {
                t.results_by_partition
                    .iter()
                    .map(|p| p.partition_error_code)
            })
            .collect(),
        R::AddOffsetsToTxn(a) => vec![a.error_code],
        R::TxnOffsetCommit(t) => t
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        R::EndTxn(e) => vec![e.error_code],
        R::DescribeTransactions(d) => d.transaction_states.iter().map(|t| t.error_code).collect(),
        R::ListTransactions(l) => vec![l.error_code],
        R::DescribeProducers(d) => d
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        other => panic!("no codes for {other:?}"),
    }
}

fn listed(response: &ResponseKind) -> Vec<String> {
    match response {
        ResponseKind::ListTransactions(l) => l
            .transaction_states
            .iter()
            .map(|t| t.transactional_id.0.to_string())
            .collect(),
        other => panic!("{other:?}"),
    }
}

async fn ask(client: &mut Client, api: ApiKey, version: i16, request: RequestKind) -> Vec<i16> {
    codes(&client.call(api, version, request).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_apis_answer_an_allowed_and_a_denied_session() {
    use ApiKey as A;
    let server = start(true).await;
    let mut allowed = Client::connect_from(server.port, ALLOWED_IP).await;
    let mut denied = Client::connect_from(server.port, DENIED_IP).await;

    let producer = match allowed.call(A::InitProducerId, 4, init("tx")).await {
        ResponseKind::InitProducerId(i) => {
            assert_eq!(i.error_code, 0, "{i:?}");
            (i.producer_id.0, i.producer_epoch)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ask(&mut denied, A::InitProducerId, 4, init("tx")).await,
        [TXN_AUTH_FAILED]
    );
    // Each refused request first, then the same from the allowed session (which opens the
    // transaction); a refused one changes nothing.
    let steps = [
        (A::AddPartitionsToTxn, 3, add_partitions("tx", producer)),
        (A::AddOffsetsToTxn, 3, add_offsets("tx", producer)),
        (A::TxnOffsetCommit, 3, offset_commit("tx", producer)),
    ];
    for (api, version, request) in steps {
        let refused = ask(&mut denied, api, version, request.clone()).await;
        assert_eq!(refused, [TXN_AUTH_FAILED], "{api:?} denied");
        assert_eq!(
            ask(&mut allowed, api, version, request).await,
            [0],
            "{api:?} allowed"
        );
    }

    let described = allowed
        .call(A::DescribeTransactions, 0, describe(&["tx"]))
        .await;
    assert_eq!(codes(&described), [0]);
    let ResponseKind::DescribeTransactions(d) = &described else {
        panic!("{described:?}");
    };
    assert_eq!(
        d.transaction_states[0].transaction_state.as_str(),
        "Ongoing"
    );
    assert_eq!(
        ask(&mut denied, A::DescribeTransactions, 0, describe(&["tx"])).await,
        [TXN_AUTH_FAILED]
    );
    let seen = allowed.call(A::ListTransactions, 1, list()).await;
    assert_eq!(
        (codes(&seen), listed(&seen)),
        (vec![0], vec!["tx".to_string()])
    );
    let hidden = denied.call(A::ListTransactions, 1, list()).await;
    assert_eq!((codes(&hidden), listed(&hidden)), (vec![0], Vec::new()));
    assert_eq!(
        ask(&mut allowed, A::DescribeProducers, 0, producers()).await,
        [0]
    );
    assert_eq!(
        ask(&mut denied, A::DescribeProducers, 0, producers()).await,
        [TOPIC_AUTH_FAILED]
    );

    assert_eq!(
        ask(&mut denied, A::EndTxn, 3, end("tx", producer)).await,
        [TXN_AUTH_FAILED]
    );
    assert_eq!(
        ask(&mut allowed, A::EndTxn, 3, end("tx", producer)).await,
        [0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactional_id_grant_does_not_grant_its_topics() {
    use ApiKey as A;
    let server = start(true).await;
    let mut allowed = Client::connect_from(server.port, ALLOWED_IP).await;
    assert_eq!(
        ask(&mut allowed, A::InitProducerId, 4, init("tx")).await,
        [0]
    );
    // Write on transactional id `ptx` and Read on groups, nothing on topic `t`.
    let mut partial = Client::connect_from(server.port, PARTIAL_IP).await;
    let producer = match partial.call(A::InitProducerId, 4, init("ptx")).await {
        ResponseKind::InitProducerId(i) => {
            assert_eq!(i.error_code, 0, "{i:?}");
            (i.producer_id.0, i.producer_epoch)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ask(
            &mut partial,
            A::AddPartitionsToTxn,
            3,
            add_partitions("ptx", producer)
        )
        .await,
        [TOPIC_AUTH_FAILED]
    );
    assert_eq!(
        ask(
            &mut partial,
            A::TxnOffsetCommit,
            3,
            offset_commit("ptx", producer)
        )
        .await,
        [TOPIC_AUTH_FAILED]
    );
    assert_eq!(
        ask(&mut partial, A::InitProducerId, 4, init("tx")).await,
        [TXN_AUTH_FAILED]
    );
    // Write implies Describe on its own id only.
    assert_eq!(
        ask(
            &mut partial,
            A::DescribeTransactions,
            0,
            describe(&["tx", "ptx"])
        )
        .await,
        [TXN_AUTH_FAILED, 0]
    );
    let seen = partial.call(A::ListTransactions, 1, list()).await;
    assert_eq!(listed(&seen), ["ptx"]);
}
