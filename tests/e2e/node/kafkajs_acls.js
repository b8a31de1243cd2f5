// kafkajs ACL admin round trip for test_acls.py: create an ACL letting User:ANONYMOUS write a
// topic, produce (allowed), describe it with a MATCH filter, delete it, produce again (denied).
// Prints one JSON object with what each step saw.
const { Kafka, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes, logLevel } = require('kafkajs')

async function produce(kafka, topic) {
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } })
  await producer.connect()
  try {
    await producer.send({ topic, messages: [{ value: 'v' }] })
    return 'ok'
  } catch (err) {
    // The protocol error (its `type` is Kafka's error name) sits under the retry wrappers.
    for (let e = err; e; e = e.originalError || e.cause) if (e.type) return e.type
    return `${err.name}: ${err.message}`
  } finally {
    await producer.disconnect()
  }
}

async function main() {
  const [bootstrap, topic] = process.argv.slice(2)
  const kafka = new Kafka({ clientId: 'acls', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  const admin = kafka.admin()
  await admin.connect()
  const acl = {
    resourceType: AclResourceTypes.TOPIC, resourceName: topic,
    resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:ANONYMOUS', host: '*',
    operation: AclOperationTypes.WRITE, permissionType: AclPermissionTypes.ALLOW,
  }
  const before = await produce(kafka, topic)
  await admin.createAcls({ acl: [acl] })
  const allowed = await produce(kafka, topic)
  const described = await admin.describeAcls({
    resourceType: AclResourceTypes.TOPIC, resourceName: topic,
    resourcePatternType: ResourcePatternTypes.MATCH, operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  })
  const deleted = await admin.deleteAcls({ filters: [{
    resourceType: AclResourceTypes.TOPIC, resourceName: topic,
    resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:ANONYMOUS', host: '*',
    operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
  }] })
  const after = await produce(kafka, topic)
  await admin.disconnect()
  process.stdout.write(JSON.stringify({
    before, allowed, after,
    described: described.resources.map(r => ({ name: r.resourceName, acls: r.acls.length })),
    deleted: deleted.filterResponses.map(f => f.matchingAcls.length),
  }))
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
