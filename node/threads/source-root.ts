/**
 * Where the TypeScript sources are: worker threads and the portal's browser script are
 * bundled from them at run time. Run through tsx, this file is node/threads/source-root.ts;
 * in the prebuilt bundle (dist/, scripts/build.mjs) a banner sets EHRLOG_SOURCE_ROOT first.
 */
const fromBundle = (globalThis as { EHRLOG_SOURCE_ROOT?: string }).EHRLOG_SOURCE_ROOT
const SOURCE_ROOT = fromBundle ? new URL(fromBundle) : new URL('../../', import.meta.url)

/** A source file by its path from the repository root, e.g. `node/store/verify/check-worker.ts`. */
export function sourceUrl(path: string): URL {
  return new URL(path, SOURCE_ROOT)
}

/**
 * The prebuilt script of a worker entry (dist/workers/, scripts/build.mjs) when running from
 * the bundle; undefined when running the sources, whose workers are bundled at run time.
 */
export function prebuiltWorker(entry: URL): URL | undefined {
  return fromBundle ? prebuiltWorkerOf(SOURCE_ROOT, entry) : undefined
}

/** Where scripts/build.mjs writes the script of worker `entry` under repository `root`. */
export function prebuiltWorkerOf(root: URL, entry: URL): URL | undefined {
  if (!entry.href.startsWith(root.href)) return undefined
  const path = entry.href.slice(root.href.length).replace(/\.ts$/, '.cjs')
  return new URL(`dist/workers/${path}`, root)
}
