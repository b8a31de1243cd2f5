// kafkajs driver for the end-to-end tests (tests/e2e/test_kafka_clients.py).
//
//   node kafkajs_client.js produce <bootstrap> <topic>            < records.json
//   node kafkajs_client.js consume <bootstrap> <topic> <partition> <count>
//   node kafkajs_client.js group <bootstrap> <topic> <group> <count>
//
// Records are JSON: [{"key": str|null, "value": str|null, "headers": {name: str}, "partition": n?}].
// `consume` prints the records read, with offsets, as JSON on stdout.
//
// `consume` reads one partition by position, without a group: it drives kafkajs's own
// cluster/broker objects directly (the Fetch request and the record-batch decoding are still
// kafkajs's). `group` runs two kafkajs consumers in one consumer group on Strom's group
// coordinator: once they hold disjoint assignments covering the topic, it produces <count>
// records round-robin over the partitions, reads until the two together have them all,
// commits, and prints {"members": [{"assignment": [...], "records": [...]}, ...]} (each
// member's assignment while the records were read). Group events are logged on stderr.
'use strict'

const fs = require('fs')
const { Kafka, logLevel, CompressionTypes } = require('kafkajs')

function client(bootstrap) {
  return new Kafka({
    clientId: 'strom-e2e-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    retry: { retries: 5 },
  })
}

async function produce(bootstrap, topic) {
  const records = JSON.parse(fs.readFileSync(0, 'utf8'))
  const producer = client(bootstrap).producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const result = await producer.send({
    topic,
    acks: -1,
    compression: CompressionTypes.GZIP,
    messages: records.map(r => ({
      key: r.key,
      value: r.value,
      headers: r.headers || {},
      partition: r.partition,
    })),
  })
  await producer.disconnect()
  process.stdout.write(JSON.stringify(result))
}

function createClusterSymbol(kafka) {
  const symbol = Object.getOwnPropertySymbols(kafka).find(s => s.description === 'private:Kafka:createCluster')
  if (!symbol) throw new Error('kafkajs internals changed: no createCluster')
  return symbol
}

async function consume(bootstrap, topic, partition, count) {
  const kafka = client(bootstrap)
  const cluster = kafka[createClusterSymbol(kafka)]({ allowAutoTopicCreation: false })
  await cluster.connect()
  await cluster.addTargetTopic(topic)
  const leaders = cluster.findLeaderForPartitions(topic, [partition])
  const broker = await cluster.findBroker({ nodeId: Object.keys(leaders)[0] })
  const out = []
  let offset = '0'
  const deadline = Date.now() + 20000
  while (out.length < count && Date.now() < deadline) {
    const response = await broker.fetch({
      maxWaitTime: 500,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset, maxBytes: 1048576 }] }],
    })
    for (const t of response.responses) {
      for (const p of t.partitions) {
        if (p.errorCode !== 0) throw new Error(`fetch error code ${p.errorCode}`)
        for (const m of p.messages) {
          if (BigInt(m.offset) < BigInt(offset)) continue
          const headers = {}
          for (const [k, v] of Object.entries(m.headers || {})) headers[k] = v.toString()
          out.push({
            offset: Number(m.offset),
            key: m.key === null ? null : m.key.toString(),
            value: m.value === null ? null : m.value.toString(),
            headers,
          })
          offset = (BigInt(m.offset) + 1n).toString()
        }
      }
    }
  }
  await cluster.disconnect()
  process.stdout.write(JSON.stringify(out.slice(0, count)))
}

function waitFor(condition, what, ms) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms
    const check = () => {
      if (condition()) return resolve()
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`))
      setTimeout(check, 50)
    }
    check()
  })
}

async function group(bootstrap, topic, groupId, count) {
  const kafka = client(bootstrap)
  const admin = kafka.admin()
  await admin.connect()
  const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length
  await admin.disconnect()
  const members = [0, 1].map(() => ({
    consumer: kafka.consumer({ groupId, sessionTimeout: 10000, rebalanceTimeout: 20000, heartbeatInterval: 500 }),
    assignment: [],
    records: [],
  }))
  for (const m of members) {
    m.consumer.on(m.consumer.events.GROUP_JOIN, e => {
      m.assignment = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
      console.error(`${Date.now()} member ${members.indexOf(m)} joined ${e.payload.memberId}: ${m.assignment}`)
    })
    for (const ev of ['REBALANCING', 'CRASH', 'STOP', 'DISCONNECT']) {
      m.consumer.on(m.consumer.events[ev], e => console.error(`${Date.now()} member ${members.indexOf(m)} ${ev} ${JSON.stringify(e.payload)}`))
    }
    await m.consumer.connect()
    await m.consumer.subscribe({ topic, fromBeginning: true })
    await m.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        m.records.push({ partition, offset: Number(message.offset), value: message.value.toString() })
      },
    })
  }
  const split = () => {
    const all = members.flatMap(m => m.assignment)
    return members.every(m => m.assignment.length > 0) &&
      new Set(all).size === all.length && all.length === partitions
  }
  await waitFor(split, 'two members with a disjoint assignment of every partition', 60000)
  // The assignments under which the records are read (the first member to disconnect at the
  // end makes the other rejoin with every partition).
  const assigned = members.map(m => m.assignment)
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: count }, (_, i) => ({ value: `g${i}`, partition: i % partitions })),
  })
  await producer.disconnect()
  const total = () => members.reduce((n, m) => n + m.records.length, 0)
  await waitFor(() => total() >= count, `${count} records`, 60000)
  for (const m of members) {
    const last = {}
    for (const r of m.records) last[r.partition] = Math.max(last[r.partition] ?? -1, r.offset)
    await m.consumer.commitOffsets(Object.entries(last).map(([p, o]) => (
      { topic, partition: Number(p), offset: String(o + 1) })))
  }
  for (const m of members) await m.consumer.disconnect()
  process.stdout.write(JSON.stringify({
    members: members.map((m, i) => ({ assignment: assigned[i], records: m.records })),
  }))
}

async function main() {
  const [cmd, bootstrap, topic, partition, count] = process.argv.slice(2)
  if (cmd === 'produce') return produce(bootstrap, topic)
  if (cmd === 'consume') return consume(bootstrap, topic, Number(partition), Number(count))
  if (cmd === 'group') return group(bootstrap, topic, partition, Number(count))
  throw new Error(`unknown command ${cmd}`)
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
