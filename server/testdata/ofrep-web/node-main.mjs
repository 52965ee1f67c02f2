// The Node test's client: the eventsource package is the EventSource.
// Usage: VEXIL_TOKEN=... node node-main.mjs BASE_URL; one JSON line per report.
import { EventSource } from 'eventsource';
import { start } from './client.mjs';

globalThis.EventSource = EventSource;
const report = (kind, fields) => console.log(JSON.stringify({ kind, ...fields }));
start(process.argv[2], process.env.VEXIL_TOKEN, report).catch((err) => {
  report('failed', { message: String(err) });
  process.exit(1);
});
// Stay up until the test ends it, whatever the provider holds open.
setInterval(() => {}, 1 << 30);
