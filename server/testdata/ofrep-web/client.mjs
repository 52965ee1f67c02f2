// Follows vexil's flags as a web front end would, with the real OpenFeature
// web SDK and OFREP web provider, and no polling: only the OFREP event stream
// can bring a change. Shared by the Node and the Chromium tests.
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

// start calls report(kind, fields) for what happens: "ready" once the first
// evaluation is in, "changed" on each PROVIDER_CONFIGURATION_CHANGED, and the
// provider's stale and error events.
export async function start(baseUrl, token, report) {
  let lastRequest = '';
  const provider = new OFREPWebProvider({
    baseUrl,
    headers: [['Authorization', `Bearer ${token}`]],
    pollInterval: 0,
    cacheMode: 'disabled',
    fetchImplementation: (input, init) => {
      lastRequest = typeof input === 'string' ? input : input.url;
      return fetch(input, init);
    },
  });
  await OpenFeature.setContext({ targetingKey: 'u-1', role: 'teacher' });
  const client = OpenFeature.getClient();
  client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
    report('changed', {
      at: Date.now(),
      value: client.getBooleanValue('new_report', false),
      flagsChanged: details.flagsChanged,
      // An event-triggered re-fetch names the config the event announced.
      sseTriggered: lastRequest.includes('flagConfigEtag='),
    });
  });
  for (const ev of [ProviderEvents.Stale, ProviderEvents.Error]) {
    client.addHandler(ev, (details) => report(ev, { message: details.message }));
  }
  await OpenFeature.setProviderAndWait(provider);
  report('ready', { value: client.getBooleanValue('new_report', false) });
}
