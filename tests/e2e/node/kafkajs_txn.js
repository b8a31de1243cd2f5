// kafkajs transactions against Strom: commits one transaction, aborts one, and reads the topic
// back with a read_committed consumer (kafkajs' default isolation). Prints the values seen as
// JSON. Usage: node kafkajs_txn.js <bootstrap> <topic>
const { Kafka, logLevel } = require("kafkajs");

async function main() {
  const [bootstrap, topic] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: "strom-txn", brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ transactionalId: "js-txn", idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let txn = await producer.transaction();
  await txn.send({ topic, messages: [0, 1, 2].map((i) => ({ value: `js-c${i}` })) });
  await txn.commit();
  txn = await producer.transaction();
  await txn.send({ topic, messages: [0, 1, 2].map((i) => ({ value: `js-a${i}` })) });
  await txn.abort();
  txn = await producer.transaction();
  await txn.send({ topic, messages: [{ value: "js-c3" }] });
  await txn.commit();
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: "js-txn-reader", readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  await new Promise((resolve, reject) => {
    const deadline = setTimeout(() => resolve(), 20000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.push(message.value.toString());
          if (seen.length >= 4) {
            clearTimeout(deadline);
            // Give an aborted record the chance to show up if it were (wrongly) delivered.
            setTimeout(resolve, 1500);
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  process.stdout.write(JSON.stringify({ seen }));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
