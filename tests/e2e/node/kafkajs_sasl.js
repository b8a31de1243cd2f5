// kafkajs over SASL for tests/e2e/test_sasl.py:
//
//   node kafkajs_sasl.js <bootstrap> <mechanism> <user> <password> <topic> [<ca.pem>]
//
// With a CA file the connection is SASL_SSL (the broker certificate verified against it).
// Produces one record with the given credentials (mechanism: plain, scram-sha-256,
// scram-sha-512 or oauthbearer, kafkajs's names; for oauthbearer the password is the JWT)
// and prints {"ok": true} or {"ok": false, "error": "..."}.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

async function main() {
  const [bootstrap, mechanism, username, password, topic, ca] = process.argv.slice(2)
  const ssl = ca ? { ca: [require('fs').readFileSync(ca, 'utf8')] } : undefined
  const kafka = new Kafka({
    ssl,
    clientId: 'strom-e2e-kafkajs-sasl',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    sasl: mechanism === 'oauthbearer'
      ? { mechanism, oauthBearerProvider: async () => ({ value: password }) }
      : { mechanism, username, password },
  })
  const producer = kafka.producer()
  try {
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: [{ value: `kafkajs-${mechanism}` }] })
    await producer.disconnect()
    console.log(JSON.stringify({ ok: true }))
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: `${e.name}: ${e.message}` }))
  }
}

main().catch(e => {
  console.error(e)
  process.exit(2)
})
