// Sign-in and what the key may do. The contract's roles are not exposed by an endpoint, so
// the console asks the API itself, with requests that change nothing:
//   GET  /v1/alerts?limit=1                        401 → unknown key; 403 → cannot read (ingest)
//   POST /v1/alerts/console.probe/acknowledge {}   403 → cannot act on alerts (manager, ops)
//   PUT  /v1/zones/console.probe {}                403 → cannot edit zones (monitor, ops)
// The probe bodies are invalid and the ids do not exist, so an allowed key gets 400/404, never a change.
import { Api, ApiError } from './api.ts';

export interface Capabilities {
  readAlerts: boolean;
  actOnAlerts: boolean;
  editZones: boolean;
  /** the contract role these capabilities correspond to */
  role: 'admin' | 'monitor' | 'manager' | 'ops' | 'ingest';
}

const KEY = 'cordon.console.key';
const NAME = 'cordon.console.name';

export function savedSession(): { key: string; name: string } | null {
  const key = sessionStorage.getItem(KEY);
  if (!key) return null;
  return { key, name: sessionStorage.getItem(NAME) ?? '' };
}

export function saveSession(key: string, name: string): void {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(NAME, name);
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(NAME);
}

async function allowed(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (err) {
    if (err instanceof ApiError) {
      if (err.status === 401) throw err;
      return err.status !== 403;
    }
    throw err;
  }
}

export async function probe(api: Api): Promise<Capabilities> {
  const readAlerts = await allowed(api.get('/v1/alerts?limit=1'));
  const [actOnAlerts, editZones] = await Promise.all([
    allowed(api.request('POST', '/v1/alerts/console.probe/acknowledge', {})),
    allowed(api.request('PUT', '/v1/zones/console.probe', {})),
  ]);
  const role = actOnAlerts && editZones ? 'admin' : actOnAlerts ? 'monitor' : editZones ? 'manager' : readAlerts ? 'ops' : 'ingest';
  return { readAlerts, actOnAlerts, editZones, role };
}
