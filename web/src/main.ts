// Console entry: sign in with an API key (kept in sessionStorage only), find out what the key
// may do, then show the views that role can use.
import 'leaflet/dist/leaflet.css';
import './styles.css';
import { Api, ApiError } from './api.ts';
import { AlertsView } from './alerts-view.ts';
import { append, clear, field, h } from './dom.ts';
import { clearSession, probe, saveSession, savedSession, type Capabilities } from './session.ts';
import type { StreamState } from './sse.ts';
import type { ConsoleConfig } from './types.ts';
import { ZonesView } from './zones-view.ts';

const root = document.getElementById('app') as HTMLElement;

/**
 * Runtime configuration served next to the page (`/console-config.json`, written by the app from
 * its environment). Missing or unreadable means no tiles: the map is a plain background.
 */
async function loadConfig(): Promise<ConsoleConfig> {
  const fallback: ConsoleConfig = { tileUrl: null, tileAttribution: null, tileMaxZoom: 19 };
  try {
    const res = await fetch('/console-config.json', { cache: 'no-store' });
    if (!res.ok) return fallback;
    const c = (await res.json()) as Partial<ConsoleConfig>;
    return {
      tileUrl: typeof c.tileUrl === 'string' && c.tileUrl ? c.tileUrl : null,
      tileAttribution: typeof c.tileAttribution === 'string' ? c.tileAttribution : null,
      tileMaxZoom: typeof c.tileMaxZoom === 'number' ? c.tileMaxZoom : 19,
    };
  } catch {
    return fallback;
  }
}

function signIn(config: ConsoleConfig, message?: string): void {
  clear(root);
  const key = h('input', { id: 'api-key', name: 'key', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { id: 'user-name', name: 'name', required: true, autocomplete: 'name' });
  const err = h('p', { class: 'form-msg error', role: 'alert', id: 'signin-error' }, message ?? '');
  const btn = h('button', { type: 'submit', class: 'btn primary', id: 'sign-in' }, 'Sign in');
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Cordon console'),
    h('p', {}, 'Sign in with your Cordon API key. The key is kept in this browser tab only and forgotten when the tab closes.'),
    field('API key', key),
    field('Your name', name, { hint: 'Recorded on the alerts you acknowledge or resolve.' }),
    btn, err);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      err.textContent = '';
      if (!key.value.trim() || !name.value.trim()) {
        err.textContent = 'Enter both the API key and your name.';
        return;
      }
      btn.disabled = true;
      const api = new Api(key.value.trim());
      try {
        const caps = await probe(api);
        if (!caps.readAlerts && !caps.editZones) {
          err.textContent = 'This key can only send pings (ingest role); the console needs a monitor, manager, ops or admin key.';
          return;
        }
        saveSession(api.key, name.value.trim());
        shell(api, caps, name.value.trim(), config);
      } catch (e2) {
        err.textContent = e2 instanceof ApiError && e2.status === 401 ? 'That key is not recognised.' : `Could not sign in: ${(e2 as Error).message}`;
      } finally {
        btn.disabled = false;
      }
    })();
  });
  append(root, h('main', { class: 'signin-page' }, form));
  key.focus();
}

const STATE_TEXT: Record<StreamState, string> = {
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  unauthorized: 'Not allowed',
  closed: 'Stopped',
};

function shell(api: Api, caps: Capabilities, userName: string, config: ConsoleConfig): void {
  clear(root);
  const status = h('span', { class: 'stream-state', id: 'stream-state', role: 'status', 'data-state': 'connecting' }, 'Connecting…');
  const sound = h('input', { type: 'checkbox', id: 'sound-toggle' });
  const tabs = h('nav', { class: 'tabs', role: 'tablist', 'aria-label': 'Sections' });
  const main = h('main', { id: 'main' });
  const views: Array<{ id: string; label: string; el: HTMLElement; shown?: () => void }> = [];

  let alerts: AlertsView | undefined;
  let zones: ZonesView | undefined;
  if (caps.readAlerts) {
    alerts = new AlertsView({
      api,
      caps,
      config,
      userName,
      onStreamState: (s, n) => {
        status.textContent = STATE_TEXT[s];
        status.dataset.state = s;
        status.dataset.reconnects = String(n);
      },
    });
    views.push({ id: 'alerts', label: 'Alerts', el: alerts.el, shown: () => alerts?.clearUnseen() });
  } else {
    status.textContent = 'No alert access';
  }
  zones = new ZonesView({ api, caps, config });
  views.push({ id: 'zones', label: caps.editZones ? 'Zone editor' : 'Zones', el: zones.el, shown: () => { zones?.start(); zones?.shown(); } });

  const select = (id: string, focus = false) => {
    for (const v of views) {
      const on = v.id === id;
      v.el.hidden = !on;
      const tab = document.getElementById(`tab-${v.id}`) as HTMLButtonElement;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      if (on) {
        if (focus) tab.focus();
        v.shown?.();
      }
    }
  };
  for (const v of views) {
    v.el.setAttribute('role', 'tabpanel');
    v.el.setAttribute('aria-labelledby', `tab-${v.id}`);
    v.el.id = `panel-${v.id}`;
    append(tabs, h('button', { type: 'button', role: 'tab', id: `tab-${v.id}`, 'aria-controls': `panel-${v.id}`, onclick: () => select(v.id) }, v.label));
    append(main, v.el);
  }
  tabs.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const i = views.findIndex((v) => document.getElementById(`tab-${v.id}`) === document.activeElement);
    const n = views[(i + (e.key === 'ArrowRight' ? 1 : views.length - 1)) % views.length];
    if (n) select(n.id, true);
  });

  sound.addEventListener('change', () => alerts?.setSound(sound.checked));
  const signOut = () => {
    alerts?.stop();
    zones?.stop();
    clearSession();
    signIn(config, 'Signed out.');
  };
  append(root,
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h('header', { class: 'top' },
      h('h1', {}, 'Cordon'),
      tabs,
      h('div', { class: 'who' },
        caps.readAlerts ? status : null,
        caps.readAlerts ? h('span', { class: 'check' }, sound, h('label', { for: 'sound-toggle' }, 'Sound for high alerts')) : null,
        h('span', { class: 'role', id: 'role', 'data-role': caps.role }, `${userName} · ${caps.role}`),
        h('button', { type: 'button', class: 'btn small', id: 'sign-out', onclick: signOut }, 'Sign out'))),
    main,
    h('div', { id: 'live-region', class: 'sr-only', 'aria-live': 'polite' }));

  alerts?.start();
  // a manager's first task is the zones; a monitor's the queue
  select(caps.editZones && !caps.actOnAlerts ? 'zones' : (views[0]?.id ?? 'zones'));
  (window as unknown as { cordonConsole: unknown }).cordonConsole = { reconnect: () => alerts?.reconnect() };
}

async function boot(): Promise<void> {
  const config = await loadConfig();
  const saved = savedSession();
  if (!saved) return signIn(config);
  const api = new Api(saved.key);
  try {
    const caps = await probe(api);
    shell(api, caps, saved.name, config);
  } catch (err) {
    clearSession();
    signIn(config, err instanceof ApiError && err.status === 401 ? 'Your key is no longer accepted; sign in again.' : undefined);
  }
}

void boot();
