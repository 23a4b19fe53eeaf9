// Zones: the list, and the editor (manager/admin): draw polygons (with holes, by cutting) and
// circles on the map or type GeoJSON, set kind, subjects, schedule windows and grace, save
// with PUT, see the server's validation errors on the fields, and browse the version history.
import L from './leaflet-global.ts';
import '@geoman-io/leaflet-geoman-free';
import '@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css';
import { Api, ApiError, qs } from './api.ts';
import { clearFieldErrors, findField, showFieldError, versionZone } from './alerts-view.ts';
import { announce, append, clear, field, fmtTime, h } from './dom.ts';
import { createMap, fitTo, geometryLayer, zoneStyle } from './map.ts';
import type { Capabilities } from './session.ts';
import {
  DAYS,
  type ConsoleConfig,
  type Day,
  type Page,
  type Ring,
  type ScheduleWindow,
  type Subject,
  type Zone,
  type ZoneBody,
  type ZoneGeometry,
} from './types.ts';

interface Deps {
  api: Api;
  caps: Capabilities;
  config: ConsoleConfig;
}

const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

export class ZonesView {
  readonly el: HTMLElement;
  private readonly deps: Deps;
  private readonly listBody: HTMLTableSectionElement;
  private readonly listMsg: HTMLElement;
  private readonly subjectFilter: HTMLInputElement;
  private readonly editorPane: HTMLElement;
  private map: L.Map | undefined;
  private drawn: L.FeatureGroup | undefined;
  private overlay: L.Layer | undefined;
  private context: L.FeatureGroup | undefined;
  private zones: Zone[] = [];
  private subjects: Subject[] = [];
  private current: Zone | undefined;
  private form: HTMLFormElement | undefined;
  private geometryText: HTMLTextAreaElement | undefined;
  private windowsEl: HTMLElement | undefined;
  private versionsEl: HTMLElement | undefined;
  private started = false;

  constructor(deps: Deps) {
    this.deps = deps;
    this.listBody = h('tbody');
    this.listMsg = h('p', { class: 'hint', role: 'status' });
    this.subjectFilter = h('input', { type: 'search', id: 'zone-subject-filter', placeholder: 'Subject id', autocomplete: 'off' });
    this.subjectFilter.addEventListener('change', () => void this.loadZones());
    const newBtn = deps.caps.editZones
      ? h('button', { type: 'button', class: 'btn primary', id: 'new-zone', onclick: () => this.openEditor(undefined) }, 'New zone')
      : null;
    this.editorPane = h('section', { class: 'zone-editor', 'aria-label': 'Zone editor' });
    this.el = h('div', { class: 'view zones-view', id: 'zones-view' },
      h('section', { class: 'zone-list-pane', 'aria-label': 'Zones' },
        h('div', { class: 'queue-head' }, h('h2', {}, 'Zones'), newBtn),
        h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter zones', onsubmit: (e: Event) => { e.preventDefault(); void this.loadZones(); } },
          field('Subject', this.subjectFilter)),
        h('div', { class: 'queue-scroll' },
          h('table', { class: 'zone-list', 'aria-label': 'Zone list' },
            h('thead', {}, h('tr', {},
              h('th', { scope: 'col' }, 'Zone'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Subjects'),
              h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
            this.listBody)),
        this.listMsg),
      this.editorPane);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.loadZones();
    void this.loadSubjects();
    this.openEditor(undefined);
  }

  /** Leaflet measures its container: call when the view becomes visible. */
  shown(): void {
    this.map?.invalidateSize();
  }

  stop(): void {
    this.map?.remove();
  }

  // ---- list ------------------------------------------------------------------------------

  private async loadZones(): Promise<void> {
    try {
      const subject = this.subjectFilter.value.trim();
      const r = await this.deps.api.all<Zone>(`/v1/zones${qs({ subjectId: subject })}`, 5000);
      this.zones = r.items.sort((a, b) => (a.name ?? a.id).localeCompare(b.name ?? b.id));
      this.listMsg.textContent = `${this.zones.length}${r.complete ? '' : '+'} zone${this.zones.length === 1 ? '' : 's'}`;
      this.renderList();
      this.renderContext();
    } catch (err) {
      this.listMsg.textContent = `Could not load zones — ${(err as Error).message}`;
    }
  }

  private async loadSubjects(): Promise<void> {
    try {
      this.subjects = (await this.deps.api.all<Subject>('/v1/subjects', 5000)).items;
      if (this.form) this.renderSubjects(this.current?.subjectIds ?? this.checkedSubjects());
    } catch {
      this.subjects = [];
    }
  }

  private renderList(): void {
    clear(this.listBody);
    for (const z of this.zones) {
      const open = () => void this.openZone(z.id);
      const tr = h('tr', { 'data-zone-id': z.id, class: this.current?.id === z.id ? 'selected' : '' },
        h('td', {}, h('span', {}, z.name ?? z.id), h('span', { class: 'sub' }, z.id)),
        h('td', {}, h('span', { class: `badge kind kind-${z.kind}` }, z.kind)),
        h('td', {}, (z.subjectIds ?? []).join(', ') || '—'),
        h('td', {}, String(z.version ?? '')),
        h('td', {}, h('button', { type: 'button', class: 'btn small', onclick: open, 'aria-label': `${this.deps.caps.editZones ? 'Edit' : 'View'} zone ${z.name ?? z.id}` },
          this.deps.caps.editZones ? 'Edit' : 'View')));
      this.listBody.appendChild(tr);
    }
  }

  private async openZone(id: string): Promise<void> {
    try {
      const z = await this.deps.api.get<Zone>(`/v1/zones/${encodeURIComponent(id)}`);
      this.openEditor(z);
      this.renderList();
    } catch (err) {
      this.listMsg.textContent = `Could not open zone ${id} — ${(err as Error).message}`;
    }
  }

  // ---- editor ----------------------------------------------------------------------------

  private openEditor(zone: Zone | undefined): void {
    this.current = zone;
    const ro = !this.deps.caps.editZones;
    const pane = this.editorPane;
    this.map?.remove();
    this.map = undefined;
    clear(pane);

    const idInput = h('input', { id: 'zone-id', name: 'id', required: true, value: zone?.id ?? '', readonly: Boolean(zone) || ro, autocomplete: 'off', pattern: '[A-Za-z0-9._:\\-]{1,64}' });
    const name = h('input', { id: 'zone-name', name: 'name', value: zone?.name ?? '', readonly: ro, autocomplete: 'off' });
    const kind = h('select', { id: 'zone-kind', name: 'kind', disabled: ro },
      h('option', { value: 'exclusion' }, 'Exclusion — must stay out'),
      h('option', { value: 'inclusion' }, 'Inclusion — must stay in'));
    kind.value = zone?.kind ?? 'exclusion';
    kind.addEventListener('change', () => this.restyle(kind.value));
    const grace = h('input', { id: 'zone-grace', name: 'graceSeconds', type: 'number', step: 1, value: String(zone?.graceSeconds ?? 0), readonly: ro, inputmode: 'numeric' });
    const minConf = h('select', { id: 'zone-min-confidence', name: 'minConfidence', disabled: ro },
      h('option', { value: 'possible' }, 'Possible — alert on any breach'),
      h('option', { value: 'confirmed' }, 'Confirmed — only once a ping is certain'));
    minConf.value = zone?.minConfidence ?? 'possible';
    const validFrom = h('input', { id: 'zone-valid-from', name: 'validFrom', value: zone?.validFrom ?? '', readonly: ro, placeholder: '2026-01-01T00:00:00Z', autocomplete: 'off' });
    const validTo = h('input', { id: 'zone-valid-to', name: 'validTo', value: zone?.validTo ?? '', readonly: ro, placeholder: 'empty = no end', autocomplete: 'off' });
    const scheduled = h('input', { type: 'checkbox', id: 'zone-scheduled', checked: Boolean(zone?.schedule && zone.schedule.windows?.length), disabled: ro });
    const tz = h('input', { id: 'zone-timezone', name: 'timezone', value: zone?.schedule?.timezone ?? '', readonly: ro, placeholder: "subject's time zone (default Europe/London)", autocomplete: 'off' });
    this.windowsEl = h('div', { class: 'windows' });
    const scheduleBody = h('div', { class: 'schedule-body', hidden: !scheduled.checked },
      field('Time zone (IANA)', tz, { path: 'schedule.timezone' }),
      this.windowsEl,
      ro ? null : h('button', { type: 'button', class: 'btn small', id: 'add-window', onclick: () => this.addWindow({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '19:00', end: '07:00' }, true) }, 'Add window'));
    scheduled.addEventListener('change', () => {
      scheduleBody.hidden = !scheduled.checked;
      if (scheduled.checked && this.windowsEl && !this.windowsEl.children.length) this.addWindow({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '19:00', end: '07:00' }, false);
    });
    this.geometryText = h('textarea', { id: 'zone-geometry', name: 'geometry', rows: 4, readonly: ro, spellcheck: 'false', class: 'mono' });
    this.geometryText.addEventListener('change', () => this.geometryTyped());

    const subjectsBox = h('fieldset', { class: 'subjects field', 'data-path': 'subjectIds' },
      h('legend', {}, 'Subjects'), h('div', { class: 'subject-list', id: 'zone-subjects' }),
      h('p', { class: 'field-error', id: 'zone-subjects-err', role: 'alert', hidden: true }));

    const formMsg = h('div', { class: 'form-msg', role: 'status', id: 'zone-form-msg' });
    const mapEl = h('div', { class: 'map editor-map', id: 'zone-map' });
    const form = h('form', { class: 'zone-form', id: 'zone-form', novalidate: true, 'aria-labelledby': 'zone-form-title' },
      h('h2', { id: 'zone-form-title' }, zone ? `${ro ? 'Zone' : 'Edit zone'} ${zone.name ?? zone.id} (version ${zone.version})` : 'New zone'),
      h('div', { class: 'form-grid' },
        field('Zone id', idInput, { path: 'id', hint: zone ? undefined : 'Letters, digits and . _ : - (up to 64)' }),
        field('Name', name, { path: 'name' }),
        field('Kind', kind, { path: 'kind' }),
        field('Grace (seconds)', grace, { path: 'graceSeconds', hint: 'How long a breach must last (event time) before it alerts.' }),
        field('Minimum confidence', minConf, { path: 'minConfidence' }),
        field('Valid from (ISO-8601)', validFrom, { path: 'validFrom' }),
        field('Valid to (ISO-8601)', validTo, { path: 'validTo' })),
      subjectsBox,
      h('fieldset', { class: 'schedule', 'data-path': 'schedule' },
        h('legend', {}, 'Schedule'),
        h('span', { class: 'check' }, scheduled, h('label', { for: 'zone-scheduled' }, 'Active only during these windows (otherwise always active)')),
        h('p', { class: 'field-error', role: 'alert', hidden: true }),
        scheduleBody),
      h('div', { class: 'geometry-block' },
        h('h3', {}, 'Area'),
        h('p', { class: 'hint', id: 'map-draw-help' }, ro
          ? 'The zone as stored.'
          : 'Draw with the tools on the map: polygon, rectangle or circle; "cut" makes a hole in a polygon; edit moves vertices. Or type GeoJSON below (Polygon, MultiPolygon, or {"type":"Circle","center":[lon,lat],"radiusM":250}). Dashed outlines are the other zones.'),
        mapEl,
        field('Geometry (GeoJSON)', this.geometryText, { path: 'geometry' })),
      ro ? h('p', { class: 'hint' }, 'This key can read zones but not change them (manager or admin role needed).') : h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: 'btn primary', id: 'save-zone' }, zone ? 'Save new version' : 'Create zone'),
        zone ? h('button', { type: 'button', class: 'btn danger', id: 'delete-zone', onclick: () => void this.deleteZone(zone.id, formMsg) }, 'Delete zone') : null),
      formMsg);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.save(formMsg);
    });
    this.form = form;
    this.versionsEl = h('section', { class: 'versions', 'aria-labelledby': 'versions-h' });
    append(pane, form, this.versionsEl);

    this.renderSubjects(zone?.subjectIds ?? []);
    for (const w of zone?.schedule?.windows ?? []) this.addWindow(w, false);

    this.map = createMap(mapEl, this.deps.config, zone ? `Map of zone ${zone.id}` : 'Map for drawing a new zone');
    this.drawn = L.featureGroup().addTo(this.map);
    if (!ro) this.enableDrawing(this.map, kind);
    if (zone?.geometry) {
      this.setGeometry(zone.geometry, kind.value);
      fitTo(this.map, [this.drawn]);
    }
    this.syncText();
    this.renderContext();
    if (zone) void this.loadVersions(zone.id);
  }

  /** Other zones as faint outlines (not editable), so a map without tiles still has landmarks. */
  private renderContext(): void {
    const map = this.map;
    if (!map) return;
    if (this.context) map.removeLayer(this.context);
    const others = this.zones.filter((z) => z.id !== this.current?.id && z.geometry);
    const layers: L.Layer[] = [];
    for (const z of others) {
      try {
        layers.push(geometryLayer(z.geometry, { ...zoneStyle(z.kind), weight: 1, opacity: 0.6, fillOpacity: 0.05, dashArray: '3 3', interactive: false, pmIgnore: true } as L.PathOptions));
      } catch {
        /* a geometry the page cannot draw is skipped */
      }
    }
    this.context = L.featureGroup(layers).addTo(map);
    this.context.eachLayer((l) => (l as L.Path).bringToBack?.());
    if (!this.current && (this.drawn?.getLayers().length ?? 0) === 0 && layers.length) fitTo(map, [this.context]);
  }

  private enableDrawing(map: L.Map, kind: HTMLSelectElement): void {
    const group = this.drawn as L.FeatureGroup;
    map.pm.setGlobalOptions({ layerGroup: group, pathOptions: zoneStyle(kind.value), snappable: true } as L.PM.GlobalOptions);
    map.pm.addControls({
      position: 'topleft',
      drawMarker: false,
      drawCircleMarker: false,
      drawPolyline: false,
      drawText: false,
      drawRectangle: true,
      drawPolygon: true,
      drawCircle: true,
      cutPolygon: true,
      rotateMode: false,
      dragMode: true,
      editMode: true,
      removalMode: true,
    });
    const onChange = () => this.syncText();
    map.on('pm:create', (e) => {
      const layer = (e as unknown as { layer: L.Layer }).layer;
      if (!group.hasLayer(layer)) group.addLayer(layer);
      layer.on('pm:edit pm:dragend', onChange);
      onChange();
    });
    map.on('pm:remove', (e) => {
      group.removeLayer((e as unknown as { layer: L.Layer }).layer);
      onChange();
    });
    map.on('pm:cut', (e) => {
      const ev = e as unknown as { layer: L.Layer; originalLayer: L.Layer };
      group.removeLayer(ev.originalLayer);
      if (!group.hasLayer(ev.layer)) group.addLayer(ev.layer);
      ev.layer.on('pm:edit pm:dragend', onChange);
      onChange();
    });
    map.on('pm:globaleditmodetoggled pm:globaldragmodetoggled', onChange);
  }

  private restyle(kind: string): void {
    const style = zoneStyle(kind);
    this.drawn?.eachLayer((l) => (l as L.Path).setStyle?.(style));
    this.map?.pm.setPathOptions(style);
  }

  private setGeometry(geometry: ZoneGeometry, kind: string): void {
    const group = this.drawn;
    if (!group) return;
    group.clearLayers();
    const layer = geometryLayer(geometry, zoneStyle(kind));
    group.addLayer(layer);
    layer.on('pm:edit pm:dragend', () => this.syncText());
  }

  /** The drawn layers as the contract's geometry; a string when they cannot be one. */
  private geometryFromMap(): ZoneGeometry | string | undefined {
    const layers = this.drawn?.getLayers() ?? [];
    if (layers.length === 0) return undefined;
    const circles = layers.filter((l): l is L.Circle => l instanceof L.Circle);
    const polys = layers.filter((l): l is L.Polygon => l instanceof L.Polygon);
    if (circles.length === 1 && polys.length === 0) {
      const c = circles[0] as L.Circle;
      const ll = c.getLatLng();
      return { type: 'Circle', center: [round(ll.lng), round(ll.lat)], radiusM: Math.round(c.getRadius() * 10) / 10 };
    }
    if (circles.length > 0) return 'A zone is either one circle or one or more polygons; remove the extra shapes.';
    const polygons: Ring[][] = [];
    for (const p of polys) {
      const g = p.toGeoJSON(7).geometry as { type: string; coordinates: unknown };
      if (g.type === 'Polygon') polygons.push(g.coordinates as Ring[]);
      else if (g.type === 'MultiPolygon') polygons.push(...(g.coordinates as Ring[][]));
    }
    if (polygons.length === 1) return { type: 'Polygon', coordinates: polygons[0] as Ring[] };
    return { type: 'MultiPolygon', coordinates: polygons };
  }

  private syncText(): void {
    if (!this.geometryText) return;
    const g = this.geometryFromMap();
    this.geometryText.value = g === undefined ? '' : typeof g === 'string' ? '' : JSON.stringify(g);
    const form = this.form;
    if (form) {
      const wrap = findField(form, 'geometry');
      if (wrap) {
        wrap.classList.remove('invalid');
        const err = wrap.querySelector<HTMLElement>('.field-error');
        if (err) {
          err.textContent = typeof g === 'string' ? g : '';
          err.hidden = typeof g !== 'string';
        }
      }
    }
    if (this.map) this.map.getContainer().dataset.shapes = String(this.drawn?.getLayers().length ?? 0);
  }

  private geometryTyped(): void {
    const text = this.geometryText?.value.trim() ?? '';
    if (!this.form) return;
    clearFieldErrors(findField(this.form, 'geometry') ?? this.form);
    if (!text) {
      this.drawn?.clearLayers();
      return;
    }
    try {
      const g = JSON.parse(text) as ZoneGeometry;
      this.setGeometry(g, (this.form.querySelector('#zone-kind') as HTMLSelectElement).value);
      if (this.map && this.drawn) fitTo(this.map, [this.drawn]);
    } catch (err) {
      showFieldError(this.form, 'geometry', `Not valid GeoJSON: ${(err as Error).message}`);
    }
  }

  private renderSubjects(selected: string[]): void {
    const box = this.form?.querySelector<HTMLElement>('#zone-subjects');
    if (!box) return;
    clear(box);
    const ro = !this.deps.caps.editZones;
    const ids = [...new Set([...this.subjects.map((s) => s.id), ...selected])].sort();
    if (ids.length === 0) append(box, h('p', { class: 'hint' }, 'No subjects yet (create them with PUT /v1/subjects/{id}).'));
    for (const id of ids) {
      const s = this.subjects.find((x) => x.id === id);
      const cbId = `zone-subject-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      append(box, h('span', { class: 'check' },
        h('input', { type: 'checkbox', id: cbId, name: 'subjectIds', value: id, checked: selected.includes(id), disabled: ro }),
        h('label', { for: cbId }, s?.name ? `${id} — ${s.name} (tag ${s.tagId})` : s ? `${id} (tag ${s.tagId})` : id)));
    }
  }

  private checkedSubjects(): string[] {
    return [...(this.form?.querySelectorAll<HTMLInputElement>('input[name="subjectIds"]:checked') ?? [])].map((i) => i.value);
  }

  private addWindow(w: ScheduleWindow, focus: boolean): void {
    const list = this.windowsEl;
    if (!list) return;
    const ro = !this.deps.caps.editZones;
    const row = h('fieldset', { class: 'window' });
    const legend = h('legend', {}, '');
    const days = h('div', { class: 'days field', role: 'group', 'aria-label': 'Days' });
    for (const d of DAYS) {
      const cb = h('input', { type: 'checkbox', value: d, checked: w.days.includes(d), disabled: ro, class: 'day' });
      append(days, h('label', { class: 'check day-check' }, cb, d));
    }
    append(days, h('p', { class: 'field-error', role: 'alert', hidden: true }));
    // 24-hour HH:MM text, as the contract writes it (a time input would show AM/PM in some locales)
    const timeAttrs = { readonly: ro, required: true, placeholder: 'HH:MM', inputmode: 'numeric', maxlength: 5, size: 6, autocomplete: 'off', pattern: '([01][0-9]|2[0-3]):[0-5][0-9]' };
    const start = h('input', { ...timeAttrs, value: w.start, class: 'start time' });
    const end = h('input', { ...timeAttrs, value: w.end, class: 'end time' });
    const midnight = h('p', { class: 'midnight hint', 'aria-live': 'polite' });
    const update = () => {
      const hhmm = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
      midnight.textContent = hhmm.test(end.value) && hhmm.test(start.value) && end.value <= start.value ? 'Crosses midnight: ends the next day (belongs to the day it starts).' : '';
    };
    start.addEventListener('input', update);
    end.addEventListener('input', update);
    update();
    const startField = field('Start (HH:MM)', start);
    const endField = field('End (HH:MM)', end);
    append(row, legend, days, h('div', { class: 'times' }, startField, endField), midnight);
    if (!ro) append(row, h('button', { type: 'button', class: 'btn small ghost', onclick: () => { row.remove(); this.renumberWindows(); } }, 'Remove window'));
    list.appendChild(row);
    this.renumberWindows();
    if (focus) start.focus();
  }

  /** Window rows carry their index in data-path so server errors land on the right field. */
  private renumberWindows(): void {
    const rows = [...(this.windowsEl?.querySelectorAll<HTMLElement>('fieldset.window') ?? [])];
    rows.forEach((row, i) => {
      const legend = row.querySelector('legend');
      if (legend) legend.textContent = `Window ${i + 1}`;
      row.dataset.path = `schedule.windows.${i}`;
      const days = row.querySelector<HTMLElement>('.days');
      if (days) {
        days.dataset.path = `schedule.windows.${i}.days`;
        days.setAttribute('aria-label', `Window ${i + 1} days`);
      }
      const s = row.querySelector<HTMLElement>('input.start')?.closest<HTMLElement>('.field');
      if (s) s.dataset.path = `schedule.windows.${i}.start`;
      const e = row.querySelector<HTMLElement>('input.end')?.closest<HTMLElement>('.field');
      if (e) e.dataset.path = `schedule.windows.${i}.end`;
      for (const cb of row.querySelectorAll<HTMLInputElement>('input.day')) cb.setAttribute('aria-label', `Window ${i + 1} ${cb.value}`);
      row.querySelector('input.start')?.setAttribute('aria-label', `Window ${i + 1} start`);
      row.querySelector('input.end')?.setAttribute('aria-label', `Window ${i + 1} end`);
    });
  }

  private readBody(): { id: string; body: Partial<ZoneBody> & Record<string, unknown> } {
    const form = this.form as HTMLFormElement;
    const val = (sel: string) => (form.querySelector(sel) as HTMLInputElement | HTMLSelectElement).value.trim();
    const body: Partial<ZoneBody> & Record<string, unknown> = {
      // an empty name is left out: the service then uses the zone id
      ...(val('#zone-name') ? { name: val('#zone-name') } : {}),
      kind: val('#zone-kind') as ZoneBody['kind'],
      subjectIds: this.checkedSubjects(),
    };
    const geomText = this.geometryText?.value.trim() ?? '';
    if (geomText) {
      try {
        body.geometry = JSON.parse(geomText) as ZoneGeometry;
      } catch {
        body.geometry = geomText as unknown as ZoneGeometry; // the server names it as invalid
      }
    }
    const grace = val('#zone-grace');
    body.graceSeconds = grace === '' ? 0 : Number(grace);
    body.minConfidence = val('#zone-min-confidence') as ZoneBody['minConfidence'];
    const vf = val('#zone-valid-from');
    const vt = val('#zone-valid-to');
    if (vf) body.validFrom = vf;
    body.validTo = vt || null;
    if ((form.querySelector('#zone-scheduled') as HTMLInputElement).checked) {
      const windows: ScheduleWindow[] = [];
      for (const row of form.querySelectorAll<HTMLElement>('fieldset.window')) {
        windows.push({
          days: [...row.querySelectorAll<HTMLInputElement>('input.day:checked')].map((c) => c.value as Day),
          start: (row.querySelector('input.start') as HTMLInputElement).value,
          end: (row.querySelector('input.end') as HTMLInputElement).value,
        });
      }
      const tz = val('#zone-timezone');
      body.schedule = tz ? { timezone: tz, windows } : { windows };
    }
    return { id: val('#zone-id'), body };
  }

  private async save(msg: HTMLElement): Promise<void> {
    const form = this.form;
    if (!form) return;
    clearFieldErrors(form);
    msg.textContent = '';
    msg.className = 'form-msg';
    const { id, body } = this.readBody();
    if (!ID_RE.test(id)) {
      showFieldError(form, 'id', 'Give the zone an id: 1–64 letters, digits or . _ : -');
      (form.querySelector('#zone-id') as HTMLElement).focus();
      return;
    }
    const drawn = this.geometryFromMap();
    if (typeof drawn === 'string') {
      showFieldError(form, 'geometry', drawn);
      return;
    }
    try {
      const saved = await this.deps.api.request<Zone>('PUT', `/v1/zones/${encodeURIComponent(id)}`, body);
      const stored = saved && typeof saved === 'object' && 'id' in saved ? saved : { ...(body as ZoneBody), id, version: 0 };
      announce(`Zone ${id} saved`);
      await this.loadZones();
      this.openEditor(stored as Zone);
      const newMsg = this.form?.querySelector<HTMLElement>('#zone-form-msg');
      if (newMsg) {
        newMsg.textContent = `Saved ${id}${stored.version ? `, version ${stored.version}` : ''}.`;
        newMsg.className = 'form-msg ok';
      }
    } catch (err) {
      msg.className = 'form-msg error';
      if (err instanceof ApiError && err.status === 400) {
        const unplaced: string[] = [];
        let first: HTMLElement | undefined;
        for (const fe of err.fieldErrors()) {
          if (showFieldError(form, fe.path, fe.message)) first ??= findField(form, fe.path);
          else unplaced.push(fe.path ? `${fe.path}: ${fe.message}` : fe.message);
        }
        msg.textContent = `The service rejected the zone: ${err.problem.detail ?? err.problem.title ?? 'invalid'}${unplaced.length ? ` — ${unplaced.join('; ')}` : ''}`;
        first?.querySelector<HTMLElement>('input, select, textarea')?.focus();
      } else if (err instanceof ApiError && err.status === 403) {
        msg.textContent = 'This key may not change zones.';
      } else {
        msg.textContent = `Could not save: ${(err as Error).message}`;
      }
      announce(msg.textContent ?? '');
    }
  }

  private async deleteZone(id: string, msg: HTMLElement): Promise<void> {
    if (!window.confirm(`Delete zone ${id}? Its history is kept.`)) return;
    try {
      await this.deps.api.request('DELETE', `/v1/zones/${encodeURIComponent(id)}`);
      announce(`Zone ${id} deleted`);
      await this.loadZones();
      this.openEditor(undefined);
    } catch (err) {
      msg.textContent = `Could not delete: ${(err as Error).message}`;
    }
  }

  // ---- versions --------------------------------------------------------------------------

  private async loadVersions(id: string): Promise<void> {
    const el = this.versionsEl;
    if (!el) return;
    clear(el);
    append(el, h('h3', { id: 'versions-h' }, 'Version history'));
    try {
      const page = await this.deps.api.get<Page<Record<string, unknown>>>(`/v1/zones/${encodeURIComponent(id)}/versions?limit=1000`);
      const items = [...(page.items ?? [])].sort((a, b) => Number(b.version) - Number(a.version));
      const tbody = h('tbody');
      for (const v of items) {
        const z = versionZone(v);
        const when = pick(v, ['changedAt', 'createdAt', 'at', 'updatedAt', 'ts']);
        const who = pick(v, ['changedBy', 'by', 'actor', 'author', 'user']);
        const what = pick(v, ['action', 'op', 'change', 'event']) ?? (v.deleted ? 'deleted' : '');
        const summary = z ? `${z.name ?? ''} · ${z.kind ?? ''} · ${z.geometry?.type ?? ''} · ${(z.subjectIds ?? []).join(', ')}` : '';
        append(tbody, h('tr', { 'data-version': String(v.version) },
          h('td', {}, String(v.version ?? '')),
          h('td', {}, when ? fmtTime(when) : '—'),
          h('td', {}, who ?? '—'),
          h('td', {}, [what, summary].filter(Boolean).join(' — ') || '—'),
          h('td', {}, z?.geometry ? h('button', { type: 'button', class: 'btn small', 'aria-label': `Show version ${String(v.version)} on the map`, onclick: () => this.showVersion(z) }, 'Show') : null)));
      }
      append(el, h('table', { class: 'versions-table', 'aria-labelledby': 'versions-h' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Who'),
          h('th', { scope: 'col' }, 'What'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Map')))),
        tbody));
      if (!items.length) append(el, h('p', { class: 'hint' }, 'No versions listed.'));
    } catch (err) {
      append(el, h('p', { class: 'hint' }, `Could not load the history — ${(err as Error).message}`));
    }
  }

  private showVersion(z: Zone): void {
    if (!this.map) return;
    if (this.overlay) this.map.removeLayer(this.overlay);
    this.overlay = geometryLayer(z.geometry, { color: '#333', weight: 2, dashArray: '6 4', fillOpacity: 0.05, interactive: false, pmIgnore: true } as L.PathOptions);
    this.overlay.addTo(this.map);
    fitTo(this.map, [this.overlay]);
    announce(`Showing version ${z.version} as a dashed outline`);
  }
}

function round(n: number): number {
  return Math.round(n * 1e7) / 1e7;
}

function pick(o: Record<string, unknown>, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === 'string' && v) return v;
  }
  return undefined;
}
