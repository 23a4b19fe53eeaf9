// The monitoring queue: live alerts over the SSE stream, filters, counts, keyboard navigation,
// the detail panel with the map, and acknowledge / resolve.
import type L from 'leaflet';
import { Api, ApiError, qs } from './api.ts';
import { announce, ago, append, clear, field, fmtTime, h } from './dom.ts';
import { createMap, fitTo, geometryLayer, positionLayer, trailLayer, zoneStyle } from './map.ts';
import { AlertQueue, DEFAULT_FILTER, type QueueFilter } from './queue-state.ts';
import type { Capabilities } from './session.ts';
import { openStream, type StreamHandle, type StreamState } from './sse.ts';
import {
  ALERT_TYPES,
  OUTCOMES,
  type Alert,
  type AlertEvent,
  type AlertStatus,
  type ConsoleConfig,
  type Page,
  type Subject,
  type TrailPoint,
  type Zone,
} from './types.ts';

const TYPE_LABEL: Record<string, string> = {
  'exclusion.breach': 'Exclusion breach',
  'inclusion.breach': 'Inclusion breach',
  'tag.tamper': 'Strap tamper',
  'tag.battery_low': 'Battery low',
  'tag.signal_lost': 'Signal lost',
  'tag.no_fix': 'No position fix',
};
const OUTCOME_LABEL: Record<string, string> = {
  breach_confirmed: 'Breach confirmed',
  reasonable_excuse: 'Reasonable excuse',
  authorised_absence: 'Authorised absence',
  false_alert: 'False alert',
  equipment_fault: 'Equipment fault',
};
const STATUSES: AlertStatus[] = ['open', 'acknowledged', 'resolved'];
/** how much of the trail to show either side of the breach */
const TRAIL_MARGIN_MS = 30 * 60_000;

export const typeLabel = (t: string): string => TYPE_LABEL[t] ?? t;

interface Deps {
  api: Api;
  caps: Capabilities;
  config: ConsoleConfig;
  userName: string;
  onStreamState: (state: StreamState, reconnects: number) => void;
}

export class AlertsView {
  readonly el: HTMLElement;
  private readonly deps: Deps;
  private readonly queue = new AlertQueue();
  private filter: QueueFilter = { ...DEFAULT_FILTER, statuses: [...DEFAULT_FILTER.statuses] };
  private stream: StreamHandle | undefined;
  private selectedId: string | undefined;
  private focusId: string | undefined;
  private renderQueued = false;
  private loadedResolved = false;
  private resolvedComplete = true;
  private readonly tbody: HTMLTableSectionElement;
  private readonly countsEl: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly emptyRow: HTMLElement;
  private detailMap: L.Map | undefined;
  private detailMapFor: string | undefined;
  private soundOn = false;
  private unseenHigh = 0;
  private readonly baseTitle = document.title;
  private readonly subjects = new Map<string, Subject | null>();
  private readonly clock: ReturnType<typeof setInterval>;

  constructor(deps: Deps) {
    this.deps = deps;
    this.countsEl = h('ul', { class: 'counts', 'aria-label': 'Alerts by status' });
    this.banner = h('div', { class: 'new-alert-banner', role: 'status', hidden: true });
    this.tbody = h('tbody');
    this.emptyRow = h('p', { class: 'empty', hidden: true }, 'No alerts match the filters.');
    this.detail = h('section', { class: 'detail-pane', 'aria-label': 'Alert detail', tabindex: -1 },
      h('p', { class: 'placeholder' }, 'Select an alert to see its detail and map.'));
    const table = h(
      'table',
      { class: 'queue', 'aria-label': 'Alert queue', 'aria-describedby': 'queue-help' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Severity'),
        h('th', { scope: 'col' }, 'Alert'),
        h('th', { scope: 'col' }, 'Subject'),
        h('th', { scope: 'col' }, 'Detected'),
        h('th', { scope: 'col' }, 'Confidence'),
        h('th', { scope: 'col' }, 'Episode'),
        h('th', { scope: 'col' }, 'Status'),
      )),
      this.tbody,
    );
    this.tbody.addEventListener('keydown', (e) => this.onKey(e));
    // however a row gets focus (Tab, click, screen-reader cursor), it becomes the roving
    // tab stop, so a re-render (live event, fresh fetch) keeps focus where the operator put it
    this.tbody.addEventListener('focusin', (e) => {
      const row = (e.target as HTMLElement).closest('tr[data-alert-id]') as HTMLElement | null;
      const id = row?.dataset.alertId;
      if (!id || id === this.focusId) return;
      this.focusId = id;
      for (const r of this.rowsEls()) r.tabIndex = r === row ? 0 : -1;
    });
    this.tbody.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest('tr[data-alert-id]') as HTMLElement | null;
      if (row?.dataset.alertId) this.select(row.dataset.alertId, { focusRow: true });
    });

    this.el = h('div', { class: 'view alerts-view', id: 'alerts-view' },
      h('section', { class: 'queue-pane', 'aria-label': 'Alert queue and filters' },
        h('div', { class: 'queue-head' }, h('h2', {}, 'Alert queue'), this.countsEl),
        this.filtersForm(),
        this.banner,
        h('div', { class: 'queue-scroll' }, table, this.emptyRow),
        h('p', { class: 'hint', id: 'queue-help' },
          'Keyboard: ↑/↓ move, Home/End first/last, Enter opens the detail',
          deps.caps.actOnAlerts ? ', A acknowledges.' : '.'),
      ),
      this.detail,
    );
    this.clock = setInterval(() => this.scheduleRender(), 30_000);
  }

  start(): void {
    this.render();
    this.stream = openStream({
      url: '/v1/alerts/stream',
      headers: () => this.deps.api.headers(),
      onMessage: (msg) => this.onStreamMessage(msg.data),
      onState: (s) => this.deps.onStreamState(s, this.stream?.reconnects ?? 0),
      // after every (re)connection, fetch the unhandled alerts too: the stream resumes from
      // Last-Event-ID, and the list covers anything older than the server's replay window.
      onOpen: () => void this.loadLists(),
    });
  }

  stop(): void {
    this.stream?.close();
    clearInterval(this.clock);
    this.detailMap?.remove();
  }

  /** For tests and the header's "reconnect" button. */
  reconnect(): void {
    this.stream?.reconnect();
  }

  setSound(on: boolean): void {
    this.soundOn = on;
  }

  clearUnseen(): void {
    this.unseenHigh = 0;
    document.title = this.baseTitle;
  }

  // ---- data ------------------------------------------------------------------------------

  private async loadLists(): Promise<void> {
    try {
      const wanted: AlertStatus[] = ['open', 'acknowledged'];
      const loads = wanted.map((s) => this.deps.api.all<Alert>(`/v1/alerts${qs({ status: s })}`, 10_000));
      const results = await Promise.all(loads);
      for (const r of results) for (const a of r.items) this.queue.apply(a);
      if (this.filter.statuses.includes('resolved')) await this.loadResolved();
      this.scheduleRender();
    } catch (err) {
      this.showQueueError(err);
    }
  }

  private async loadResolved(): Promise<void> {
    const page = await this.deps.api.get<Page<Alert>>(`/v1/alerts${qs({ status: 'resolved', limit: 500 })}`);
    for (const a of page.items) this.queue.apply(a);
    this.loadedResolved = true;
    this.resolvedComplete = !page.nextCursor;
  }

  private onStreamMessage(data: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const ev = parsed as Partial<AlertEvent>;
    const alert = (ev.alert ?? (parsed as Alert)) as Alert;
    if (!alert || typeof alert.id !== 'string' || typeof alert.status !== 'string') return;
    const result = this.queue.apply(alert);
    if (result === 'same') return;
    if (result === 'new' && alert.severity === 'high' && alert.status === 'open') this.cue(alert);
    this.scheduleRender();
  }

  private cue(alert: Alert): void {
    this.unseenHigh += 1;
    document.title = `(${this.unseenHigh}) ${this.baseTitle}`;
    const text = `New high-severity alert: ${typeLabel(alert.type)} — subject ${alert.subjectId ?? alert.tagId}`;
    clear(this.banner);
    append(
      this.banner,
      h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '!'),
      h('span', {}, text),
      h('button', { type: 'button', class: 'btn small', onclick: () => { this.select(alert.id, { focusRow: true }); this.hideBanner(); } }, 'Show'),
      h('button', { type: 'button', class: 'btn small ghost', 'aria-label': 'Dismiss notice', onclick: () => this.hideBanner() }, '×'),
    );
    this.banner.hidden = false;
    this.banner.classList.remove('pulse');
    void this.banner.offsetWidth; // restart the animation
    this.banner.classList.add('pulse');
    this.flashIds.add(alert.id);
    setTimeout(() => {
      this.flashIds.delete(alert.id);
      this.scheduleRender();
    }, 8000);
    announce(text);
    if (this.soundOn) beep();
  }

  private readonly flashIds = new Set<string>();

  private hideBanner(): void {
    this.banner.hidden = true;
    this.clearUnseen();
  }

  private showQueueError(err: unknown): void {
    const msg = err instanceof ApiError ? `${err.status ? `HTTP ${err.status}: ` : ''}${err.message}` : String(err);
    clear(this.banner);
    append(this.banner, h('span', {}, `Could not load alerts — ${msg}`));
    this.banner.hidden = false;
  }

  // ---- filters ---------------------------------------------------------------------------

  private filtersForm(): HTMLElement {
    const statusBoxes = h('fieldset', { class: 'status-filter' }, h('legend', {}, 'Status'));
    for (const s of STATUSES) {
      const id = `filter-status-${s}`;
      const box = h('input', { type: 'checkbox', id, name: 'status', value: s, checked: this.filter.statuses.includes(s) });
      box.addEventListener('change', () => {
        this.filter.statuses = STATUSES.filter((x) => (document.getElementById(`filter-status-${x}`) as HTMLInputElement).checked);
        if (this.filter.statuses.includes('resolved') && !this.loadedResolved) {
          void this.loadResolved().then(() => this.scheduleRender(), (e) => this.showQueueError(e));
        }
        this.scheduleRender();
      });
      append(statusBoxes, h('span', { class: 'check' }, box, h('label', { for: id }, s)));
    }
    const type = h('select', { id: 'filter-type', name: 'type' }, h('option', { value: '' }, 'All types'),
      ...ALERT_TYPES.map((t) => h('option', { value: t }, typeLabel(t))));
    type.addEventListener('change', () => { this.filter.type = type.value; this.scheduleRender(); });
    const conf = h('select', { id: 'filter-confidence', name: 'confidence' },
      h('option', { value: '' }, 'Any'), h('option', { value: 'confirmed' }, 'Confirmed'), h('option', { value: 'possible' }, 'Possible'));
    conf.addEventListener('change', () => { this.filter.confidence = conf.value; this.scheduleRender(); });
    const subj = h('input', { id: 'filter-subject', name: 'subject', type: 'search', placeholder: 'Subject or tag id', autocomplete: 'off' });
    subj.addEventListener('input', () => { this.filter.subject = subj.value; this.scheduleRender(); });
    const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter alerts' },
      statusBoxes, field('Type', type), field('Confidence', conf), field('Subject', subj));
    form.addEventListener('submit', (e) => e.preventDefault());
    return form;
  }

  // ---- queue rendering and keyboard ------------------------------------------------------

  private scheduleRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  private render(): void {
    const counts = this.queue.counts();
    clear(this.countsEl);
    for (const s of STATUSES) {
      const n = s === 'resolved' && !this.resolvedComplete ? `${counts[s]}+` : String(counts[s]);
      append(this.countsEl, h('li', { class: `count status-${s}`, 'data-status': s }, h('span', { class: 'n' }, s === 'resolved' && !this.loadedResolved ? '–' : n), ` ${s}`));
    }
    const rows = this.queue.list(this.filter);
    const hadFocus = this.tbody.contains(document.activeElement);
    if (!this.focusId || !rows.some((a) => a.id === this.focusId)) this.focusId = this.selectedId && rows.some((a) => a.id === this.selectedId) ? this.selectedId : rows[0]?.id;
    clear(this.tbody);
    const now = Date.now();
    for (const a of rows) this.tbody.appendChild(this.row(a, now));
    this.emptyRow.hidden = rows.length > 0;
    if (hadFocus) this.focusRow(this.focusId);
    if (this.selectedId) {
      const sel = this.queue.get(this.selectedId);
      if (sel) this.renderDetailInfo(sel);
    }
  }

  private row(a: Alert, now: number): HTMLTableRowElement {
    const cls = [
      'alert-row',
      `sev-${a.severity}`,
      `status-${a.status}`,
      `conf-${a.confidence}`,
      a.active ? 'active' : 'ended',
      a.late ? 'late' : '',
      this.flashIds.has(a.id) ? 'flash' : '',
    ].join(' ');
    const tr = h(
      'tr',
      {
        class: cls,
        tabindex: a.id === this.focusId ? 0 : -1,
        'data-alert-id': a.id,
        'aria-current': a.id === this.selectedId ? 'true' : undefined,
        'aria-label': `${a.severity} severity ${typeLabel(a.type)}, subject ${a.subjectId ?? a.tagId}, ${a.confidence}, ${a.active ? 'active' : 'ended'}${a.late ? ', late' : ''}, ${a.status}`,
      },
      h('td', {}, h('span', { class: `badge sev sev-${a.severity}` }, a.severity)),
      h('td', {}, h('span', { class: 'type' }, typeLabel(a.type)), a.zoneId ? h('span', { class: 'sub' }, `zone ${a.zoneId}`) : null,
        a.late ? h('span', { class: 'badge late', title: 'Raised from a ping that arrived late' }, 'late') : null),
      h('td', {}, h('span', {}, a.subjectId ?? '—'), h('span', { class: 'sub' }, a.tagId)),
      h('td', {}, h('time', { datetime: a.detectedAt, title: fmtTime(a.detectedAt) }, ago(a.detectedAt, now))),
      h('td', {}, h('span', { class: `badge conf conf-${a.confidence}` }, a.confidence === 'confirmed' ? '● confirmed' : '○ possible')),
      h('td', {}, h('span', { class: `badge episode ${a.active ? 'active' : 'ended'}` }, a.active ? 'active' : 'ended')),
      h('td', {}, h('span', { class: `badge status status-${a.status}` }, a.status)),
    );
    return tr;
  }

  private rowsEls(): HTMLElement[] {
    return [...this.tbody.querySelectorAll<HTMLElement>('tr[data-alert-id]')];
  }

  private focusRow(id: string | undefined): void {
    if (!id) return;
    for (const r of this.rowsEls()) {
      const me = r.dataset.alertId === id;
      r.tabIndex = me ? 0 : -1;
      if (me) {
        r.focus();
        r.scrollIntoView({ block: 'nearest' });
      }
    }
    this.focusId = id;
  }

  private onKey(e: KeyboardEvent): void {
    const rows = this.rowsEls();
    const cur = (e.target as HTMLElement).closest('tr[data-alert-id]') as HTMLElement | null;
    const i = cur ? rows.indexOf(cur) : -1;
    let next: HTMLElement | undefined;
    switch (e.key) {
      case 'ArrowDown':
        next = rows[Math.min(rows.length - 1, i + 1)];
        break;
      case 'ArrowUp':
        next = rows[Math.max(0, i - 1)];
        break;
      case 'Home':
        next = rows[0];
        break;
      case 'End':
        next = rows[rows.length - 1];
        break;
      case 'Enter':
      case ' ':
        if (cur?.dataset.alertId) {
          e.preventDefault();
          this.select(cur.dataset.alertId, { focusDetail: true });
        }
        return;
      case 'a':
      case 'A':
        if (cur?.dataset.alertId && this.deps.caps.actOnAlerts && !e.ctrlKey && !e.metaKey && !e.altKey) {
          e.preventDefault();
          const id = cur.dataset.alertId;
          this.select(id);
          void this.acknowledge(id, '');
        }
        return;
      default:
        return;
    }
    e.preventDefault();
    if (next?.dataset.alertId) this.focusRow(next.dataset.alertId);
  }

  // ---- detail ----------------------------------------------------------------------------

  select(id: string, opts: { focusRow?: boolean; focusDetail?: boolean } = {}): void {
    const a = this.queue.get(id);
    if (!a) return;
    this.selectedId = id;
    this.focusId = id;
    for (const r of this.rowsEls()) {
      if (r.dataset.alertId === id) r.setAttribute('aria-current', 'true');
      else r.removeAttribute('aria-current');
    }
    if (opts.focusRow) this.focusRow(id);
    this.renderDetail(a);
    if (opts.focusDetail) this.detail.focus();
    // ping counts and last positions change without an event (CONTRACT §3): read the latest
    void this.deps.api.get<Alert>(`/v1/alerts/${encodeURIComponent(id)}`).then(
      (fresh) => {
        if (this.queue.apply(fresh) === 'same') return;
        this.scheduleRender();
        // redraw the trail with the latest positions, unless the operator has started typing
        const typing = [...this.detail.querySelectorAll<HTMLTextAreaElement>('textarea')].some((t) => t.value !== '');
        const latest = this.queue.get(id);
        if (this.selectedId === id && latest && !typing) this.renderDetail(latest);
      },
      () => {},
    );
  }

  private infoEl: HTMLElement | undefined;
  private actionsEl: HTMLElement | undefined;

  private renderDetail(a: Alert): void {
    clear(this.detail);
    this.infoEl = h('div', { class: 'detail-info' });
    this.actionsEl = h('div', { class: 'detail-actions' });
    const mapEl = h('div', { class: 'map detail-map', id: 'detail-map' });
    append(this.detail, this.infoEl, h('h3', { class: 'map-title' }, 'Map: zone and ping trail'), mapEl, h('p', { class: 'hint', id: 'map-legend' },
      'Zone in red (exclusion) or green (inclusion), holes left open; dots are pings with their accuracy circles, purple during the breach; the ringed orange and purple markers are the first and last violating positions.'),
      this.actionsEl);
    this.renderDetailInfo(a);
    this.renderActions(a);
    this.detailMap?.remove();
    this.detailMap = createMap(mapEl, this.deps.config, `Map of alert ${a.id}`);
    this.detailMapFor = a.id;
    void this.loadDetailMap(a, this.detailMap);
  }

  private renderDetailInfo(a: Alert): void {
    if (!this.infoEl || this.selectedId !== a.id) return;
    const info = this.infoEl;
    clear(info);
    const subj = a.subjectId ? this.subjects.get(a.subjectId) : undefined;
    if (a.subjectId && !this.subjects.has(a.subjectId)) void this.loadSubject(a.subjectId);
    const notes = (a.notes ?? []).map((n) => (typeof n === 'string' ? n : `${n.text ?? n.note ?? ''}${n.by ? ` — ${n.by}` : ''}${n.at ? `, ${fmtTime(n.at)}` : ''}`));
    append(
      info,
      h('h2', { id: 'detail-title' }, typeLabel(a.type)),
      h('p', { class: 'badges' },
        h('span', { class: `badge sev sev-${a.severity}` }, `${a.severity} severity`), ' ',
        h('span', { class: `badge conf conf-${a.confidence}` }, a.confidence), ' ',
        h('span', { class: `badge episode ${a.active ? 'active' : 'ended'}` }, a.active ? 'active episode' : 'episode ended'), ' ',
        a.late ? h('span', { class: 'badge late' }, 'late') : null, ' ',
        h('span', { class: `badge status status-${a.status}` }, a.status)),
      h('dl', { class: 'facts' },
        ...fact('Subject', a.subjectId ? `${a.subjectId}${subj?.name ? ` — ${subj.name}` : ''}${subj?.orderRef ? ` (order ${subj.orderRef})` : ''}` : '—'),
        ...fact('Tag', a.tagId),
        ...fact('Zone', a.zoneId ? `${a.zoneId} (version ${a.zoneVersion ?? '?'})` : '—'),
        ...fact('Trigger', a.trigger ?? '—'),
        ...fact('Opened (event time)', fmtTime(a.openedAt)),
        ...fact('Detected', fmtTime(a.detectedAt)),
        ...fact('Last ping', fmtTime(a.lastPingAt)),
        ...fact('Ended', fmtTime(a.endedAt)),
        ...fact('Pings', String(a.pingCount)),
        ...fact('Last position', a.lastPosition ? `${a.lastPosition.lat.toFixed(5)}, ${a.lastPosition.lon.toFixed(5)} ±${a.lastPosition.accuracyM ?? '?'} m` : '—'),
        ...fact('Acknowledged', a.acknowledgedBy ? `${a.acknowledgedBy}, ${fmtTime(a.acknowledgedAt)}` : '—'),
        ...fact('Resolved', a.resolvedBy ? `${a.resolvedBy}, ${fmtTime(a.resolvedAt)} — ${OUTCOME_LABEL[a.outcome ?? ''] ?? a.outcome ?? ''}` : '—'),
        ...fact('Alert id', a.id),
      ),
      notes.length ? h('div', { class: 'notes' }, h('h3', {}, 'Notes'), h('ul', {}, ...notes.map((n) => h('li', {}, n)))) : null,
    );
    if (this.actionsEl && this.actionsEl.dataset.status !== a.status) this.renderActions(a);
  }

  private async loadSubject(id: string): Promise<void> {
    this.subjects.set(id, null);
    try {
      this.subjects.set(id, await this.deps.api.get<Subject>(`/v1/subjects/${encodeURIComponent(id)}`));
      this.scheduleRender();
    } catch {
      /* the subject may be gone; the id is shown */
    }
  }

  private renderActions(a: Alert): void {
    const el = this.actionsEl;
    if (!el) return;
    clear(el);
    el.dataset.status = a.status;
    if (!this.deps.caps.actOnAlerts) {
      append(el, h('p', { class: 'hint' }, 'This key can read alerts but not act on them (monitor or admin role needed).'));
      return;
    }
    const msg = h('p', { class: 'action-msg', role: 'status' });
    if (a.status === 'open') {
      const note = h('textarea', { id: 'ack-note', rows: 2 });
      const form = h('form', { class: 'action-form', 'aria-labelledby': 'ack-h' },
        h('h3', { id: 'ack-h' }, 'Acknowledge'),
        field('Note (optional)', note),
        h('button', { type: 'submit', class: 'btn primary', id: 'ack-button' }, 'Acknowledge'));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        void this.acknowledge(a.id, note.value, msg);
      });
      append(el, form);
    }
    if (a.status !== 'resolved') {
      const outcome = h('select', { id: 'resolve-outcome', required: true },
        h('option', { value: '' }, 'Choose an outcome…'), ...OUTCOMES.map((o) => h('option', { value: o }, OUTCOME_LABEL[o] ?? o)));
      const note = h('textarea', { id: 'resolve-note', rows: 2 });
      const form = h('form', { class: 'action-form', 'aria-labelledby': 'resolve-h' },
        h('h3', { id: 'resolve-h' }, 'Resolve'),
        field('Outcome', outcome, { path: 'outcome' }),
        field('Note (optional)', note, { path: 'note' }),
        h('button', { type: 'submit', class: 'btn', id: 'resolve-button' }, 'Resolve'));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!outcome.value) {
          showFieldError(form, 'outcome', 'Choose an outcome.');
          outcome.focus();
          return;
        }
        void this.resolve(a.id, outcome.value, note.value, msg, form);
      });
      append(el, form);
    } else {
      append(el, h('p', { class: 'hint' }, 'Resolved — no further action.'));
    }
    append(el, msg);
  }

  private async acknowledge(id: string, note: string, msg?: HTMLElement): Promise<void> {
    try {
      const body: Record<string, string> = { by: this.deps.userName };
      if (note.trim()) body.note = note.trim();
      const updated = await this.deps.api.request<Alert>('POST', `/v1/alerts/${encodeURIComponent(id)}/acknowledge`, body);
      if (updated && typeof updated === 'object' && updated.id) this.queue.apply(updated);
      announce('Alert acknowledged');
      this.scheduleRender();
      const a = this.queue.get(id);
      if (a && this.selectedId === id) this.renderActions(a);
    } catch (err) {
      await this.actionFailed(id, err, msg);
    }
  }

  private async resolve(id: string, outcome: string, note: string, msg: HTMLElement, form: HTMLElement): Promise<void> {
    try {
      const body: Record<string, string> = { by: this.deps.userName, outcome };
      if (note.trim()) body.note = note.trim();
      const updated = await this.deps.api.request<Alert>('POST', `/v1/alerts/${encodeURIComponent(id)}/resolve`, body);
      if (updated && typeof updated === 'object' && updated.id) this.queue.apply(updated);
      announce('Alert resolved');
      this.scheduleRender();
      const a = this.queue.get(id);
      if (a && this.selectedId === id) this.renderActions(a);
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) {
        for (const fe of err.fieldErrors()) showFieldError(form, fe.path, fe.message);
      }
      await this.actionFailed(id, err, msg);
    }
  }

  private async actionFailed(id: string, err: unknown, msg?: HTMLElement): Promise<void> {
    const text =
      err instanceof ApiError && err.status === 409
        ? 'Someone else has already acted on this alert; it has been refreshed.'
        : err instanceof ApiError
          ? `Failed: ${err.message}`
          : `Failed: ${String(err)}`;
    if (msg) msg.textContent = text;
    announce(text);
    try {
      const fresh = await this.deps.api.get<Alert>(`/v1/alerts/${encodeURIComponent(id)}`);
      this.queue.apply(fresh);
      this.scheduleRender();
    } catch {
      /* leave as is */
    }
  }

  private async loadDetailMap(a: Alert, map: L.Map): Promise<void> {
    const layers: L.Layer[] = [];
    const add = (l: L.Layer) => {
      if (this.detailMap !== map) return;
      l.addTo(map);
      layers.push(l);
    };
    if (a.zoneId) {
      try {
        const zone = await this.zoneAtVersion(a.zoneId, a.zoneVersion);
        if (zone?.geometry) {
          const style = zoneStyle(zone.kind);
          add(geometryLayer(zone.geometry, style).bindTooltip(`${zone.name ?? zone.id} (${zone.kind}, v${zone.version ?? '?'})`));
        }
      } catch {
        /* zone deleted or unreadable: the trail is still shown */
      }
    }
    const from = Date.parse(a.openedAt);
    const to = Date.parse(a.endedAt ?? a.lastPingAt ?? a.openedAt);
    try {
      const q = qs({ from: new Date(from - TRAIL_MARGIN_MS).toISOString(), to: new Date(Math.max(to, from) + TRAIL_MARGIN_MS).toISOString() });
      const res = await this.deps.api.get<Page<TrailPoint> | TrailPoint[]>(`/v1/tags/${encodeURIComponent(a.tagId)}/positions${q}`);
      const points = Array.isArray(res) ? res : (res.items ?? []);
      if (points.length) add(trailLayer(points, { from, to }));
    } catch {
      /* no trail access: first/last positions still shown */
    }
    if (a.firstPosition) add(positionLayer(a.firstPosition, 'First violating position', '#b45309'));
    if (a.lastPosition) add(positionLayer(a.lastPosition, 'Last violating position', '#6a1b9a'));
    if (this.detailMap === map) {
      fitTo(map, layers);
      map.getContainer().dataset.loaded = 'true';
    }
  }

  private async zoneAtVersion(zoneId: string, version: number | null): Promise<Zone | undefined> {
    const id = encodeURIComponent(zoneId);
    if (version !== null && version !== undefined) {
      try {
        const versions = await this.deps.api.get<Page<Record<string, unknown>>>(`/v1/zones/${id}/versions?limit=1000`);
        const v = versions.items.find((x) => Number(x.version) === version);
        const z = v ? versionZone(v) : undefined;
        if (z?.geometry) return z;
      } catch {
        /* fall back to the current zone */
      }
    }
    return this.deps.api.get<Zone>(`/v1/zones/${id}`);
  }
}

/** A version entry may carry the zone inline or under `zone`/`body`/`snapshot`. */
export function versionZone(v: Record<string, unknown>): Zone | undefined {
  for (const k of ['zone', 'body', 'snapshot', 'data', 'after']) {
    const inner = v[k];
    if (inner && typeof inner === 'object' && 'geometry' in inner) return { ...(inner as Zone), version: Number(v.version ?? (inner as Zone).version) };
  }
  if ('geometry' in v) return v as unknown as Zone;
  return undefined;
}

function fact(label: string, value: string): HTMLElement[] {
  return [h('dt', {}, label), h('dd', {}, value)];
}

export function showFieldError(scope: HTMLElement, path: string, message: string): boolean {
  const wrap = findField(scope, path);
  if (!wrap) return false;
  const err = wrap.querySelector<HTMLElement>('.field-error');
  const control = wrap.querySelector<HTMLElement>('input, select, textarea');
  if (err) {
    err.textContent = err.textContent ? `${err.textContent} ${message}` : message;
    err.hidden = false;
  }
  control?.setAttribute('aria-invalid', 'true');
  wrap.classList.add('invalid');
  return true;
}

/** The field whose data-path is the longest prefix of `path`. */
export function findField(scope: HTMLElement, path: string): HTMLElement | undefined {
  let best: HTMLElement | undefined;
  let bestLen = -1;
  for (const el of scope.querySelectorAll<HTMLElement>('[data-path]')) {
    const p = el.dataset.path ?? '';
    if (!p) continue;
    if ((path === p || path.startsWith(`${p}.`)) && p.length > bestLen) {
      best = el;
      bestLen = p.length;
    }
  }
  return best;
}

export function clearFieldErrors(scope: HTMLElement): void {
  for (const w of scope.querySelectorAll<HTMLElement>('.field.invalid, [data-path].invalid')) w.classList.remove('invalid');
  for (const e of scope.querySelectorAll<HTMLElement>('.field-error')) {
    e.textContent = '';
    e.hidden = true;
  }
  for (const c of scope.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

let audio: AudioContext | undefined;
function beep(): void {
  try {
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  } catch {
    /* no audio available */
  }
}
