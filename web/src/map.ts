// Map building blocks shared by the alert detail and the zone editor. Tiles are optional
// configuration: without a tile URL the map is a plain background with zones, positions and
// a scale bar, so the console works with no internet access.
import L from './leaflet-global.ts';
import type { ConsoleConfig, Position, Ring, TrailPoint, ZoneGeometry } from './types.ts';

export function createMap(el: HTMLElement, config: ConsoleConfig, label: string): L.Map {
  const map = L.map(el, {
    center: [51.5, -0.12],
    zoom: 12,
    zoomSnap: 0.25,
    zoomDelta: 0.5,
    zoomControl: true,
    attributionControl: Boolean(config.tileUrl),
    keyboard: true,
  });
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, {
      maxZoom: config.tileMaxZoom,
      attribution: config.tileAttribution ?? '',
    }).addTo(map);
  } else {
    el.classList.add('map-plain');
  }
  L.control.scale({ metric: true, imperial: false, position: 'bottomleft' }).addTo(map);
  el.setAttribute('role', 'region');
  el.setAttribute('aria-label', label);
  return map;
}

const ringToLatLngs = (ring: Ring): L.LatLngTuple[] => ring.map(([lon, lat]) => [lat, lon] as L.LatLngTuple);

export function zoneStyle(kind: string): L.PathOptions {
  return kind === 'inclusion'
    ? { color: '#1b6e3a', weight: 2, fillColor: '#2e9e58', fillOpacity: 0.15 }
    : { color: '#a3161a', weight: 2, fillColor: '#d7262b', fillOpacity: 0.18 };
}

/** A zone as a Leaflet layer: polygons keep their holes; circles use the geodesic radius. */
export function geometryLayer(geometry: ZoneGeometry, style: L.PathOptions): L.Layer {
  switch (geometry.type) {
    case 'Circle':
      return L.circle([geometry.center[1], geometry.center[0]], { ...style, radius: geometry.radiusM });
    case 'Polygon':
      return L.polygon(geometry.coordinates.map(ringToLatLngs), style);
    case 'MultiPolygon':
      return L.polygon(geometry.coordinates.map((poly) => poly.map(ringToLatLngs)), style);
    default:
      throw new Error(`unknown geometry type ${(geometry as { type: string }).type}`);
  }
}

function pointTime(p: TrailPoint): number {
  return typeof p.ts === 'number' ? p.ts : Date.parse(String(p.ts));
}

export interface TrailOptions {
  /** positions inside the breach (between openedAt and endedAt/lastPingAt) are drawn stronger */
  from: number;
  to: number;
}

/** The ping trail: a line through the fixes and an accuracy circle around each. */
export function trailLayer(points: TrailPoint[], opts: TrailOptions): L.FeatureGroup {
  const group = L.featureGroup();
  const fixes = points
    .filter((p) => typeof p.lat === 'number' && typeof p.lon === 'number')
    .sort((a, b) => pointTime(a) - pointTime(b));
  if (fixes.length > 1) {
    L.polyline(
      fixes.map((p) => [p.lat as number, p.lon as number] as L.LatLngTuple),
      { color: '#1d3f8f', weight: 2, dashArray: '4 4', interactive: false },
    ).addTo(group);
  }
  for (const p of fixes) {
    const t = pointTime(p);
    const inBreach = t >= opts.from && t <= opts.to;
    const ll: L.LatLngTuple = [p.lat as number, p.lon as number];
    const acc = typeof p.accuracyM === 'number' && p.accuracyM > 0 ? p.accuracyM : 10;
    L.circle(ll, {
      radius: acc,
      color: inBreach ? '#6a1b9a' : '#1d3f8f',
      weight: 1,
      fillOpacity: inBreach ? 0.18 : 0.08,
      className: 'accuracy-circle',
    }).addTo(group);
    L.circleMarker(ll, {
      radius: inBreach ? 5 : 3,
      color: '#ffffff',
      weight: 1,
      fillColor: inBreach ? '#6a1b9a' : '#1d3f8f',
      fillOpacity: 1,
      className: 'trail-point',
    })
      .bindTooltip(`${new Date(t).toISOString()}${p.fix ? ` · ${p.fix}` : ''} · ±${Math.round(acc)} m`)
      .addTo(group);
  }
  return group;
}

/** A single position (first/last of an alert) with its accuracy circle. */
export function positionLayer(pos: Position, label: string, color: string): L.FeatureGroup {
  const g = L.featureGroup();
  const ll: L.LatLngTuple = [pos.lat, pos.lon];
  L.circle(ll, { radius: pos.accuracyM ?? 10, color, weight: 2, fillOpacity: 0.1, dashArray: '2 3' }).addTo(g);
  L.circleMarker(ll, { radius: 6, color: '#ffffff', weight: 2, fillColor: color, fillOpacity: 1 }).bindTooltip(label).addTo(g);
  return g;
}

export function fitTo(map: L.Map, layers: L.Layer[]): void {
  let bounds: L.LatLngBounds | undefined;
  for (const l of layers) {
    const b = (l as unknown as { getBounds?: () => L.LatLngBounds }).getBounds?.();
    if (b && b.isValid()) bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
  }
  if (bounds) map.fitBounds(bounds.pad(0.15), { maxZoom: 18, animate: false });
}
