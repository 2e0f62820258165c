// Drives the real xo-lib 0.9.0 (npm) against our xo-server, one JSON line per step on stdout.
// XO_URL: the server's http URL. XO_WITH_POOL=1: also wait for VMs, report how fast an `all`
// notification follows a change made in the simulator (the Python side makes the change when
// it reads {"step":"watching"}), and start a halted VM.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const Xo = require('xo-lib').default

const out = (step, data = {}) => process.stdout.write(JSON.stringify({ step, ...data }) + '\n')
const errorOf = e => ({ name: e.constructor.name, message: e.message, code: e.code, data: e.data })

const xo = new Xo({ url: process.env.XO_URL })
const notifications = []
const waiters = []
xo.on('notification', n => {
  notifications.push(n)
  for (const w of waiters.slice()) w()
})
// Resolves with the first notification (past or future) matching `predicate`.
const waitFor = predicate =>
  new Promise(resolve => {
    let seen = 0
    const check = () => {
      for (; seen < notifications.length; seen++) {
        if (predicate(notifications[seen])) {
          waiters.splice(waiters.indexOf(check), 1)
          resolve(notifications[seen])
          return
        }
      }
    }
    waiters.push(check)
    check()
  })

await xo.open()
out('open')
await xo.signIn({ email: 'admin@admin.net', password: 'admin' })
out('signedIn', { user: xo.user })
out('version', { result: await xo.call('system.getVersion') })
await xo.call('session.getUser').catch(e => out('sessionRefused', { error: errorOf(e) }))
await xo.call('foo.bar').catch(e => out('unknownMethod', { error: errorOf(e) }))
await xo.call('user.create', { password: 'x' }).catch(e => out('badParams', { error: errorOf(e) }))
const token = await xo.call('token.create', { description: 'xo-lib e2e' })
out('token', { token })

if (process.env.XO_WITH_POOL === '1') {
  const isVmEnter = n => n.method === 'all' && n.params.type === 'enter' &&
    Object.values(n.params.items).some(o => o.type === 'VM')
  await waitFor(isVmEnter)
  const vms = await xo.call('xo.getAllObjects', { filter: { type: 'VM' } })
  out('vms', { vms })
  const halted = Object.values(vms).find(vm => vm.power_state === 'Halted')
  const renamed = Object.values(vms).find(vm => vm !== halted)
  out('watching', { vm: renamed.id, ref: renamed._xapiRef })
  const started = Date.now()
  await waitFor(n => n.method === 'all' && n.params.type === 'enter' &&
    n.params.items[renamed.id]?.name_label === 'changed through XenAPI')
  out('notified', { ms: Date.now() - started })
  out('vmStart', { result: await xo.call('vm.start', { id: halted.id }) })
  await waitFor(n => n.method === 'all' && n.params.items[halted.id]?.power_state === 'Running')
  out('running', { vm: halted.id })
}

await xo.close()
out('closed')
