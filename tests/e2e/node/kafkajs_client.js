// kafkajs driver for the end-to-end tests (tests/e2e/test_kafka_clients.py).
//
//   node kafkajs_client.js produce <bootstrap> <topic>            < records.json
//   node kafkajs_client.js consume <bootstrap> <topic> <partition> <count>
//
// Records are JSON: [{"key": str|null, "value": str|null, "headers": {name: str}, "partition": n?}].
// `consume` prints the records read, with offsets, as JSON on stdout.
//
// kafkajs only consumes through consumer groups, whose APIs Strom does not serve yet, so
// `consume` drives kafkajs's own cluster/broker objects directly: the Fetch request and the
// record-batch decoding are still kafkajs's.
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

async function main() {
  const [cmd, bootstrap, topic, partition, count] = process.argv.slice(2)
  if (cmd === 'produce') return produce(bootstrap, topic)
  if (cmd === 'consume') return consume(bootstrap, topic, Number(partition), Number(count))
  throw new Error(`unknown command ${cmd}`)
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
