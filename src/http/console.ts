/**
 * The monitoring console (web/): the built bundle served as static files at `/`, plus
 * `/console-config.json`, the runtime settings the page reads at start (map tiles). The page
 * talks to the public API only; this plugin adds no data endpoint.
 *
 *   buildApp({ ..., plugins: [consolePlugin({ tileUrl: config.consoleTileUrl })] })
 *
 * When web/dist is missing (not built yet) `/` answers a short page saying how to build it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

export interface ConsoleOptions {
  /** folder holding the built console (default: web/dist of this repository) */
  distDir?: string;
  /** XYZ tile URL template, e.g. `https://tiles.example/{z}/{x}/{y}.png`; null/undefined = no tiles */
  tileUrl?: string | null;
  /** attribution shown on the map when tiles are used */
  tileAttribution?: string | null;
  /** highest zoom the tile server has (default 19) */
  tileMaxZoom?: number;
}

/**
 * The console's settings from the environment (main.ts passes process.env):
 * `CONSOLE_TILE_URL` (an http(s) XYZ template with {z} {x} {y}; unset = no tiles),
 * `CONSOLE_TILE_ATTRIBUTION`, `CONSOLE_TILE_MAX_ZOOM` (default 19). A bad value throws an
 * error naming the variable, so start-up stops with a clear message.
 */
export function consoleOptionsFromEnv(env: Record<string, string | undefined>): ConsoleOptions {
  const url = env.CONSOLE_TILE_URL?.trim() || null;
  if (url) {
    let ok = false;
    try {
      const u = new URL(url.replace(/\{[a-z]\}/g, '0'));
      ok = (u.protocol === 'https:' || u.protocol === 'http:') && url.includes('{z}') && url.includes('{x}') && url.includes('{y}');
    } catch {
      ok = false;
    }
    if (!ok) throw new Error(`CONSOLE_TILE_URL must be an http(s) URL template with {z}, {x} and {y} (got "${url}")`);
  }
  const zoomRaw = env.CONSOLE_TILE_MAX_ZOOM?.trim();
  let tileMaxZoom = 19;
  if (zoomRaw) {
    if (!/^\d+$/.test(zoomRaw) || Number(zoomRaw) < 1 || Number(zoomRaw) > 24) {
      throw new Error(`CONSOLE_TILE_MAX_ZOOM must be an integer between 1 and 24 (got "${zoomRaw}")`);
    }
    tileMaxZoom = Number(zoomRaw);
  }
  return { tileUrl: url, tileAttribution: env.CONSOLE_TILE_ATTRIBUTION?.trim() || null, tileMaxZoom };
}

export const DEFAULT_CONSOLE_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cordon console not built</title>
<style>body{font:16px system-ui,sans-serif;margin:3rem auto;max-width:40rem;color:#1a1d21;padding:0 1rem}code{background:#eef0f3;padding:.1rem .3rem}</style>
</head><body><h1>The Cordon console is not built yet</h1>
<p>The API is running (see <a href="/docs">/docs</a>). To serve the web console here, build it once:</p>
<p><code>npm run build:web</code></p>
<p>(<code>npm start</code> builds it automatically when it is missing.) Then reload this page.</p>
</body></html>`;

export function consolePlugin(opts: ConsoleOptions = {}): FastifyPluginAsync {
  const dist = opts.distDir ?? DEFAULT_CONSOLE_DIST;
  const settings = {
    tileUrl: opts.tileUrl || null,
    tileAttribution: opts.tileAttribution || null,
    tileMaxZoom: opts.tileMaxZoom ?? 19,
  };
  return async function cordonConsole(app) {
    app.get('/console-config.json', { schema: { hide: true } }, async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      return settings;
    });

    if (!existsSync(`${dist}/index.html`)) {
      app.log.warn({ dist }, 'console not built: run `npm run build:web` to serve it at /');
      app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.code(200).type('text/html; charset=utf-8').send(NOT_BUILT));
      return;
    }

    await app.register(fastifyStatic, {
      root: dist,
      prefix: '/',
      index: ['index.html'],
      // Vite fingerprints everything under assets/: cache it for good; the page itself never.
      cacheControl: false,
      setHeaders(reply, path) {
        const immutable = path.replaceAll('\\', '/').includes('/assets/');
        reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
        reply.header('x-content-type-options', 'nosniff');
        reply.header('referrer-policy', 'no-referrer');
      },
    });
  };
}
