// Tiny DOM helpers: build elements without a framework, always through textContent (no HTML
// injection from alert or zone data).
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'class') {
      el.className = String(v);
    } else if (k === 'value' && 'value' in el) {
      (el as unknown as { value: string }).value = String(v);
    } else if (k === 'checked' && 'checked' in el) {
      (el as unknown as { checked: boolean }).checked = Boolean(v);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

let uid = 0;
export function nextId(prefix: string): string {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form control: `<label for>` + control + an error slot tied by aria-describedby. */
export function field(label: string, control: HTMLElement, opts: { hint?: string; path?: string } = {}): HTMLElement {
  const id = control.id || nextId('f');
  control.id = id;
  const errId = `${id}-err`;
  const described = [errId];
  const wrap = h('div', { class: 'field', 'data-path': opts.path });
  append(wrap, h('label', { for: id }, label), control);
  if (opts.hint) {
    const hintId = `${id}-hint`;
    described.unshift(hintId);
    append(wrap, h('p', { class: 'hint', id: hintId }, opts.hint));
  }
  append(wrap, h('p', { class: 'field-error', id: errId, role: 'alert', hidden: true }));
  control.setAttribute('aria-describedby', described.join(' '));
  return wrap;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 60) return `${Math.max(0, s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function announce(text: string): void {
  const live = document.getElementById('live-region');
  if (live) {
    live.textContent = '';
    // a fresh text node makes screen readers read it even when it repeats
    setTimeout(() => (live.textContent = text), 30);
  }
}
