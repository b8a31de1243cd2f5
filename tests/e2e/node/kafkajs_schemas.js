// kafkajs with @kafkajs/confluent-schema-registry against Strom's built-in registry, for
// tests/e2e/test_schema_produce.py:
//
//   node kafkajs_schemas.js <bootstrap> <registry url> <topic> <AVRO|PROTOBUF|JSON> <schema file> < values.json
//
// Registers the schema under <topic>-value with the npm registry client, encodes each value
// of the JSON array on stdin with it (Confluent's wire format), produces them with kafkajs,
// then reads the topic back from the beginning in a consumer group and decodes every value
// with the registry client. Prints {"id": <schema id>, "values": [decoded values]} as JSON.
'use strict'

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry')

async function main() {
  const [bootstrap, url, topic, type, file] = process.argv.slice(2)
  const values = JSON.parse(fs.readFileSync(0, 'utf8'))
  const registry = new SchemaRegistry({ host: url })
  const { id } = await registry.register(
    { type: SchemaType[type], schema: fs.readFileSync(file, 'utf8') },
    { subject: `${topic}-value` },
  )
  const kafka = new Kafka({ clientId: 'strom-e2e-schemas', brokers: [bootstrap], logLevel: logLevel.WARN })
  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (const v of values) messages.push({ value: await registry.encode(id, v) })
  await producer.send({ topic, acks: -1, messages })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: `schemas-${topic}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const decoded = []
  await new Promise((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          decoded.push(await registry.decode(message.value))
          if (decoded.length >= values.length) resolve()
        },
      })
      .catch(reject)
  })
  await consumer.disconnect()
  process.stdout.write(JSON.stringify({ id, values: decoded }) + '\n')
}

main().catch(e => {
  console.error(e)
  process.exit(1)
})
