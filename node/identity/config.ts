import { isIP, isIPv4 } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { EhrlogError } from '../core/errors.ts'
import { ORIGIN_PATTERN } from '../core/layout.ts'
import { describeSchemaIssue } from './schema-issue.ts'
import { smtpConfigSchema } from './smtp-config.ts'

export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']

const multiaddrText = z.string().refine(
  (text) => {
    try {
      multiaddr(text)
      return true
    } catch {
      return false
    }
  },
  { message: 'not a multiaddr (want e.g. /ip4/0.0.0.0/tcp/4001)' },
)

/** An IP address with a prefix length (10.1.2.0/24, fd00::/8), or one address alone. */
const cidrText = z.string().refine((text) => parseCidr(text) !== undefined, {
  message: 'not an address or CIDR (want e.g. 10.1.2.0/24 or 192.0.2.7)',
})

/**
 * RFC 5426 syslog over UDP. No sender can be authenticated over UDP: a listener on anything but
 * loopback must name the networks it takes datagrams from (docs/atna.md).
 */
const syslogUdpSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(514),
    allowedNetworks: z.array(cidrText).default([]),
    /** RFC 5426 §3.2: a receiver must take 480 octets and should take 2048; IPv4 allows 65507. */
    maxDatagramBytes: z.number().int().min(480).max(65507).default(65507),
  })
  .superRefine((udp, ctx) => {
    if (!isLoopbackHost(udp.host) && udp.allowedNetworks.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['allowedNetworks'],
        message: `host ${udp.host} is not loopback: name the networks whose datagrams are taken (UDP cannot authenticate a sender)`,
      })
  })

/** Whether `host` is a loopback address or name (a UDP listener there needs no network list). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIPv4(host) && host.startsWith('127.')
}

/** "a.b.c.d/n", "x::y/n" or one address: the address, its family and prefix length. */
export function parseCidr(
  text: string,
): { address: string; family: 'ipv4' | 'ipv6'; prefix: number } | undefined {
  const [address = '', prefixText, extra] = text.split('/')
  if (extra !== undefined) return undefined
  const version = isIP(address)
  if (version === 0) return undefined
  const max = version === 4 ? 32 : 128
  const prefix = prefixText === undefined ? max : Number(prefixText)
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined
  return { address, family: version === 4 ? 'ipv4' : 'ipv6', prefix }
}

/**
 * config.json of a node folder. Strict: an unknown key is refused (CONFIG_INVALID), because a
 * misspelt option silently ignored is worse than a node that does not start.
 */
export const nodeConfigSchema = z.strictObject({
  /** The node's origin name: a DNS label, also the suffix of its users' names. */
  name: z.string().regex(ORIGIN_PATTERN, 'want a lower-case DNS label like hospital-a'),
  /** libp2p listen addresses. Port 0 picks a free port: fine alone, not for a real network. */
  listen: z.array(multiaddrText).min(1).default(DEFAULT_LISTEN),
  /**
   * The addresses other nodes dial (a public IP or DNS name and port), announced by libp2p
   * instead of the listen addresses; identity.json publishes them (node/identity/addresses.ts).
   */
  announce: z.array(multiaddrText).default([]),
  /**
   * A joining hospital (in no membership version yet): members to ask for the chain of
   * changes besides the genesis members' addresses, as multiaddrs ending in /p2p/<PeerId>.
   */
  join: z
    .array(
      multiaddrText.refine((a) => a.includes('/p2p/'), 'want a multiaddr ending in /p2p/<PeerId>'),
    )
    .optional(),
  /** Ingest API and web portal. Loopback by default: exposing it is a deliberate choice. */
  http: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(0),
      /** HTTPS: PEM files, relative to the node folder or absolute; re-read on SIGHUP. */
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /**
       * Behind a reverse proxy: client address and scheme from X-Forwarded-For/-Proto/-Host.
       * true trusts any sender (only when nothing but the proxy reaches the port); better the
       * list of the proxy's addresses or CIDRs.
       */
      trustProxy: z.union([z.boolean(), z.array(z.string().min(1)).min(1)]).default(false),
      /** Bearer token for GET /metrics from other hosts; without it, loopback clients only. */
      metricsToken: z
        .string()
        .regex(/^[A-Za-z0-9_-]{32,}$/, 'want at least 32 base64url characters')
        .optional(),
    })
    .default({ host: '127.0.0.1', port: 0, trustProxy: false }),
  /** Bearer token of the hospital's EHR for the ingest API: 32 random bytes, base64url. */
  apiToken: z.string().regex(/^[A-Za-z0-9_-]{43,}$/, 'want at least 43 base64url characters'),
  alerts: z
    .strictObject({
      admins: z.array(z.email()).default([]),
      /** Without it, alerts go to the node's log and DIR/alerts/outbox/*.eml. */
      smtp: smtpConfigSchema.optional(),
      /** Quorum alert: this many checkpoint intervals with changes and no cosigned checkpoint. */
      quorumStallRounds: z.number().int().min(1).max(1000).default(3),
      /** Quorum alert: a member not connected for this long (default 5 minutes). */
      memberSilenceMs: z
        .number()
        .int()
        .min(1000)
        .max(7 * 24 * 3600_000)
        .default(300_000),
    })
    .default({ admins: [], quorumStallRounds: 3, memberSilenceMs: 300_000 }),
  /** Verified queries: per user at this node, `burst` at once, refilled at `perMinute`. */
  query: z
    .strictObject({
      rateLimit: z
        .strictObject({
          perMinute: z.number().int().min(1).max(1_000_000).default(60),
          burst: z.number().int().min(1).max(1_000_000).default(30),
        })
        .default({ perMinute: 60, burst: 30 }),
    })
    .default({ rateLimit: { perMinute: 60, burst: 30 } }),
  /**
   * IHE ATNA ingest (ITI-20, docs/atna.md): RFC 5425 syslog over TLS (senders present a
   * certificate issued by `ca` whose subject CN is in `allowedSubjects`) and, optionally,
   * RFC 5426 syslog over UDP from loopback or the allowed networks. Off when absent.
   */
  syslog: z
    .strictObject({
      tls: z
        .strictObject({
          host: z.string().min(1).default('127.0.0.1'),
          port: z.number().int().min(0).max(65535).default(6514),
          /** PEM files, relative to the node folder or absolute. */
          cert: z.string().min(1),
          key: z.string().min(1),
          ca: z.string().min(1),
          allowedSubjects: z.array(z.string().min(1).max(256)).min(1),
          maxFrameBytes: z
            .number()
            .int()
            .min(1024)
            .max(1024 * 1024)
            .default(65536),
        })
        .optional(),
      udp: syslogUdpSchema.optional(),
      /**
       * Worker threads that parse messages (XML, event schema) off the event loop; 0 parses
       * inline. Default: one fewer than the cores, at least 1, at most 4.
       */
      parseThreads: z.number().int().min(0).max(16).optional(),
    })
    .refine((s) => s.tls !== undefined || s.udp !== undefined, {
      message: 'want tls, udp or both',
    })
    .optional(),
  /**
   * Other members' portal addresses, by node name, e.g. {"hospital-c": "https://ehrlog.hospital-c.org"}.
   * network.json holds only libp2p addresses, not where a hospital serves its portal: with
   * this, a sign-in at the wrong hospital's portal links to the right one (docs/portal.md).
   */
  portals: z
    .record(
      z.string().regex(ORIGIN_PATTERN, 'want a member name like hospital-c'),
      z.url({
        protocol: /^https?$/,
        error: 'want an http(s) URL like https://ehrlog.hospital-c.org',
      }),
    )
    .default({}),
  /** The store folder, relative to the node folder. */
  dataDir: z.string().min(1).default('db'),
})

export type NodeConfig = z.output<typeof nodeConfigSchema>
export type NodeConfigInput = z.input<typeof nodeConfigSchema>

/** Parses untrusted config (already JSON-decoded); throws CONFIG_INVALID naming the field. */
export function parseNodeConfig(value: unknown, source = 'config.json'): NodeConfig {
  const result = nodeConfigSchema.safeParse(value)
  if (!result.success) {
    const { field, message } = describeSchemaIssue(result.error)
    throw new EhrlogError('CONFIG_INVALID', `${source}: ${message}`, {
      details: { field, source },
      cause: result.error,
    })
  }
  return result.data
}

/** Decodes config.json text; JSON syntax errors are CONFIG_INVALID too. */
export function parseNodeConfigText(text: string, source = 'config.json'): NodeConfig {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new EhrlogError('CONFIG_INVALID', `${source} is not valid JSON`, {
      details: { field: '', source },
      cause: err,
    })
  }
  return parseNodeConfig(value, source)
}
