// Drives the real npm `xen-api` client (the one Xen Orchestra uses) against xapi-sim.
// Prints one JSON line per step on stdout:
//   {"step":"loaded","counts":{...},"total":N,"classes":[...]}  after the initial full load
//   {"step":"vm","uuid":...,"name_label":...,"power_state":...}  for each change of XAPI_WATCH_UUID
//   {"step":"seen", ...}  when that VM shows XAPI_EXPECT_NAME (then exits 0)
//   {"step":"error","message":...}  (then exits 1)
// Environment: XAPI_URL, XAPI_USER, XAPI_PASSWORD, XAPI_WATCH_UUID, XAPI_EXPECT_NAME.
import { Xapi } from 'xen-api'

const out = (step, data = {}) => process.stdout.write(JSON.stringify({ step, ...data }) + '\n')
const fail = error => {
  out('error', { message: String(error && error.message), code: error && error.code })
  process.exit(1)
}

const xapi = new Xapi({
  url: process.env.XAPI_URL,
  allowUnauthorized: true,
  auth: { user: process.env.XAPI_USER, password: process.env.XAPI_PASSWORD },
})
const watched = process.env.XAPI_WATCH_UUID
const expected = process.env.XAPI_EXPECT_NAME

const report = objects => {
  for (const object of Object.values(objects)) {
    if (object.$type === 'VM' && object.uuid === watched) {
      out('vm', { uuid: object.uuid, name_label: object.name_label, power_state: object.power_state })
      if (object.name_label === expected) {
        out('seen', { uuid: object.uuid, name_label: object.name_label, power_state: object.power_state })
        xapi.disconnect().then(() => process.exit(0), fail)
      }
    }
  }
}

try {
  await xapi.connect()
  await xapi.objectsFetched
  const counts = {}
  for (const object of Object.values(xapi.objects.all)) {
    counts[object.$type] = (counts[object.$type] || 0) + 1
  }
  const vm = xapi.getObjectByUuid(watched)
  out('loaded', {
    counts,
    total: Object.keys(xapi.objects.all).length,
    watched: { $type: vm.$type, name_label: vm.name_label, power_state: vm.power_state },
    pool: xapi.pool && xapi.pool.uuid,
  })
  xapi.objects.on('update', report)
  xapi.objects.on('add', report)
} catch (error) {
  fail(error)
}
