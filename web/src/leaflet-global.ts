// Leaflet plugins (geoman) look for a global `L`; this module runs before they load.
import L from 'leaflet';

(globalThis as unknown as { L: typeof L }).L = L;

export default L;
