/**
 * Where the TypeScript sources are: worker threads and the portal's browser script are
 * bundled from them at run time. Run through tsx, this file is node/threads/source-root.ts;
 * in the prebuilt bundle (dist/, scripts/build.mjs) a banner sets EHRLOG_SOURCE_ROOT first.
 */
const fromBundle = (globalThis as { EHRLOG_SOURCE_ROOT?: string }).EHRLOG_SOURCE_ROOT
const SOURCE_ROOT = fromBundle ? new URL(fromBundle) : new URL('../../', import.meta.url)

/** A source file by its path from the repository root, e.g. `node/store/check-worker.ts`. */
export function sourceUrl(path: string): URL {
  return new URL(path, SOURCE_ROOT)
}
