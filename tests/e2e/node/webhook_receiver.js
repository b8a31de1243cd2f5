// A webhook receiver on Node's own http module, the second stack of the webhook tests
// (tests/e2e/test_webhooks_node.py; the Python ones use the standardwebhooks library):
// verifies each request's Standard Webhooks signature with node:crypto (HMAC-SHA256 over
// "{webhook-id}.{webhook-timestamp}.{body}" keyed with the base64 after "whsec_", any of the
// space-separated "v1,<signature>" entries, timestamp within 5 minutes), deduplicates on
// webhook-id, answers 204 (401 when the signature does not verify), and prints one JSON line
// per request on stdout: {"id", "verified", "duplicate", "body"}. The first line is
// {"port": n}. Node's default keep-alive timeout (5 s) closes idle connections.
//
//   node webhook_receiver.js <whsec_secret>
'use strict'

const http = require('http')
const crypto = require('crypto')

const key = Buffer.from(process.argv[2].replace(/^whsec_/, ''), 'base64')
const seen = new Set()

function verify(headers, body) {
  const id = headers['webhook-id']
  const ts = headers['webhook-timestamp']
  const signatures = headers['webhook-signature']
  if (!id || !ts || !signatures) return false
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false
  const expected = crypto.createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest()
  return signatures.split(' ').some(entry => {
    const [version, signature] = entry.split(',')
    if (version !== 'v1' || !signature) return false
    const got = Buffer.from(signature, 'base64')
    return got.length === expected.length && crypto.timingSafeEqual(got, expected)
  })
}

const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', chunk => chunks.push(chunk))
  req.on('end', () => {
    const body = Buffer.concat(chunks)
    const id = req.headers['webhook-id']
    const verified = verify(req.headers, body)
    const duplicate = verified && seen.has(id)
    if (verified) seen.add(id)
    process.stdout.write(JSON.stringify({ id, verified, duplicate, body: body.toString('utf8') }) + '\n')
    res.statusCode = verified ? 204 : 401
    res.end()
  })
})

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})
