// kafkajs's partition reassignment admin calls against one node (tests/e2e/test_kafka_admin_parity.py):
//
//   node kafkajs_reassign.js <bootstrap> <topic>
//
// Prints JSON: {"node": id, "same": result of moving every partition to this node,
// "elsewhere": the error of moving partition 0 to [node, 99], "unknown": the error for a
// partition that does not exist, "listed": listPartitionReassignments() afterwards}.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

async function outcome(promise) {
  try {
    const value = await promise
    return { ok: value === undefined ? null : value }
  } catch (e) {
    // An aggregate error lists one error per failed partition.
    const errors = (e.errors || [e]).map(x => x.type || x.name)
    return { error: errors.join(','), message: e.message }
  }
}

async function main() {
  const [bootstrap, topic] = process.argv.slice(2)
  const kafka = new Kafka({ clientId: 'strom-e2e-reassign', brokers: [bootstrap],
                            logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const { brokers } = await admin.describeCluster()
    const node = brokers[0].nodeId
    const move = partitionAssignment =>
      admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment }], timeout: 5000 })
    const result = {
      node,
      same: await outcome(move([{ partition: 0, replicas: [node] }, { partition: 1, replicas: [node] }])),
      elsewhere: await outcome(move([{ partition: 0, replicas: [node, 99] }])),
      unknown: await outcome(move([{ partition: 7, replicas: [node] }])),
      listed: await outcome(admin.listPartitionReassignments({ timeout: 5000 })),
    }
    process.stdout.write(JSON.stringify(result) + '\n')
  } finally {
    await admin.disconnect()
  }
}

main().catch(e => { console.error(e); process.exit(1) })
