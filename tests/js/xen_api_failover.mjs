// The real npm `xen-api` client (what Xen Orchestra uses) following a pool's master through
// xapi-sim's host addresses. Prints one JSON line per step on stdout:
//   {"step":"connected","hostname":...,"port":...}  after login: the slave it was given answered
//                                                  HOST_IS_SLAVE, the client moved to the master
//   {"step":"loaded","hosts":[address...],"master":address}  after the initial full load
//   {"step":"lost","message":...}                  first failed event.from (the test stopped the master)
//   {"step":"recovered","hostname":...,"port":...,"tried":[...]}  logged in again through a
//                                                  surviving member (redirected to the new master)
//   {"step":"seen","uuid":...,"name_label":...}    the new master's event for XAPI_EXPECT_NAME (exit 0)
//   {"step":"error","message":...}                 (exit 1)
// Environment: XAPI_URL (any pool member), XAPI_USER, XAPI_PASSWORD, XAPI_WATCH_UUID,
// XAPI_EXPECT_NAME.
//
// xen-api 4.7.6 itself keeps retrying the address it lost (its fallback addresses were
// removed upstream); like Xen Orchestra's server after a master loss, this script then opens a
// new connection to another member from the cached `host.address` values, keeping the URL's
// scheme and port, and relies on HOST_IS_SLAVE to reach the new master.
import { Xapi } from 'xen-api'

const out = (step, data = {}) => process.stdout.write(JSON.stringify({ step, ...data }) + '\n')
const fail = error => {
  out('error', { message: String(error && error.message), code: error && error.code })
  process.exit(1)
}
const auth = { user: process.env.XAPI_USER, password: process.env.XAPI_PASSWORD }
const watched = process.env.XAPI_WATCH_UUID
const expected = process.env.XAPI_EXPECT_NAME

const open = async url => {
  const xapi = new Xapi({ url, allowUnauthorized: true, auth })
  await xapi.connect()
  return xapi
}
// where the client ended up: its own parsed URL (the one HOST_IS_SLAVE rewrote)
const where = xapi => ({ hostname: xapi._url.hostname, port: xapi._url.port })
const hostAddresses = xapi =>
  Object.values(xapi.objects.all)
    .filter(object => object.$type === 'host')
    .map(host => host.address)

const watchFor = xapi => {
  const report = objects => {
    for (const object of Object.values(objects)) {
      if (object.$type === 'VM' && object.uuid === watched && object.name_label === expected) {
        out('seen', { uuid: object.uuid, name_label: object.name_label })
        xapi.disconnect().then(() => process.exit(0), fail)
      }
    }
  }
  xapi.objects.on('update', report)
  xapi.objects.on('add', report)
}

try {
  const first = await open(process.env.XAPI_URL)
  out('connected', where(first))
  await first.objectsFetched
  const addresses = hostAddresses(first)
  out('loaded', { hosts: addresses, master: first.getObjectByRef(first.pool.master).address })

  const lost = await new Promise(resolve => first.once('eventFetchingError', resolve))
  out('lost', { message: String(lost && lost.message) })
  const current = first._url.hostname
  await first.disconnect()

  const tried = []
  let second
  for (const address of addresses.filter(address => address !== current)) {
    const url = new URL(process.env.XAPI_URL)
    url.hostname = address // same scheme and port, as xen-api does on HOST_IS_SLAVE
    tried.push(url.href)
    try {
      second = await open(url.href)
      break
    } catch (error) {
      tried.push(String(error && (error.code || error.message)))
    }
  }
  if (second === undefined) {
    throw new Error('no pool member answered: ' + tried.join(', '))
  }
  await second.objectsFetched
  watchFor(second)
  out('recovered', { ...where(second), tried })
} catch (error) {
  fail(error)
}
