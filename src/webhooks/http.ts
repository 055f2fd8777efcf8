// The only place that opens outbound connections (DESIGN "The shape"). SSRF-safe: every address a
// webhook host resolves to, or that it is, must be public unicast unless the operator allowed its
// network; the check runs at connect time inside undici's connector, so a DNS answer that changes
// between check and connect (rebinding) cannot slip through. Redirects are not followed; response
// bodies are read up to a cap.
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { setMaxListeners } from 'node:events';
import ipaddr from 'ipaddr.js';
import { Agent, request } from 'undici';

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface OutboundPolicy {
  /** CIDR ranges exempt from the block (e.g. 127.0.0.0/8 for a receiver on this machine in development). */
  allowedNetworks: string[];
  timeoutMs: number;
  /** Injected in tests; the system resolver otherwise. */
  resolver?: Resolver;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The first 2 KB of the body. */
  snippet: string;
  latencyMs: number;
}

export class DeliveryError extends Error {
  constructor(
    readonly kind: 'blocked' | 'timeout' | 'network',
    message: string,
    readonly latencyMs = 0,
  ) {
    super(message);
  }
}

const SNIPPET_BYTES = 2048;
/** Discovery documents, JWKS and token responses are a few KB; this leaves room and bounds what is buffered. */
const DOCUMENT_BYTES = 256 * 1024;
const DOCUMENT_USER_AGENT = 'Tessera-Federation/1.0';

/** What a document exchange sends (the subset of fetch's RequestInit that federation uses). */
export interface DocumentRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams | Uint8Array | ArrayBuffer | null;
  signal?: AbortSignal;
}
const IPV4_COMPATIBLE = ipaddr.parse('::');
const USER_AGENT = 'Tessera-Webhooks/1.0 (+https://www.standardwebhooks.com)';

export class WebhookHttpClient {
  private readonly allowed: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
  private readonly agent: Agent;
  private readonly resolver: Resolver;

  constructor(private readonly policy: OutboundPolicy) {
    this.allowed = policy.allowedNetworks.map((cidr) => ipaddr.parseCIDR(cidr.trim()));
    this.resolver = policy.resolver ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));
    this.agent = new Agent({
      connections: 64,
      keepAliveTimeout: 10_000,
      headersTimeout: policy.timeoutMs,
      bodyTimeout: policy.timeoutMs,
      connect: {
        timeout: policy.timeoutMs,
        // Node calls this for host names (not for IP literals, which `post` checks itself).
        lookup: (hostname, options, callback) => {
          this.resolveChecked(hostname).then(
            (addresses) => {
              const wantsAll = typeof options === 'object' && (options as { all?: boolean }).all;
              if (wantsAll) (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
              else callback(null, addresses[0]!.address, addresses[0]!.family);
            },
            (error: Error) => callback(error as NodeJS.ErrnoException, '', 4),
          );
        },
      },
    });
  }

  /** Why an address may not be contacted, or null when it may. */
  blockedReason(address: string): string | null {
    let ip = ipaddr.parse(address);
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
    if (this.allowed.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return null;
    const range = ip.range();
    // ::/96, "IPv4-compatible" (deprecated, RFC 4291 section 2.5.5.1): no host has one, yet some stacks route it to
    // the IPv4 address inside, so it is refused outright (ipaddr.js calls it unicast). :: and ::1 keep their names.
    if (ip.kind() === 'ipv6' && range === 'unicast' && ip.match(IPV4_COMPATIBLE, 96)) return `${address} is an IPv4-compatible address (::/96), which no host uses`;
    // Only public unicast: loopback, private, link-local (169.254.169.254, the cloud metadata address),
    // carrier-grade NAT, unique-local, multicast, reserved and the rest are refused.
    return range === 'unicast' ? null : `${address} is a ${range} address`;
  }

  private async resolveChecked(hostname: string): Promise<LookupAddress[]> {
    const addresses = await this.resolver(hostname);
    if (!addresses.length) throw new DeliveryError('network', `${hostname} does not resolve`);
    // Every address must be allowed: a name answering one public and one private address is refused.
    for (const { address } of addresses) {
      const reason = this.blockedReason(address);
      if (reason) throw new DeliveryError('blocked', `${hostname} resolves to ${reason}; webhooks may only reach public addresses`);
    }
    return addresses;
  }

  /**
   * When requests sent together must have answered: one timer for a whole fan-out, since its requests all
   * start at once (a timer and an AbortSignal per request cost a few percent of the worker's CPU).
   */
  deadline(requests = 1): AbortSignal {
    const signal = AbortSignal.timeout(this.policy.timeoutMs);
    // Each request listens for the abort; many listeners on one signal are expected here, not a leak.
    setMaxListeners(Math.max(requests, 10), signal);
    return signal;
  }

  /** An IP literal is checked here: Node asks the connector's lookup for host names only. */
  private checkLiteral(target: URL): void {
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (ipaddr.isValid(host)) {
      const reason = this.blockedReason(host);
      if (reason) throw new DeliveryError('blocked', `${reason}; webhooks may only reach public addresses`);
    }
  }

  /** One POST, answered before `deadline` (by default, the timeout from now). */
  async post(url: string, headers: Record<string, string>, body: string, deadline = this.deadline()): Promise<OutboundResponse> {
    const target = new URL(url);
    this.checkLiteral(target);
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await request(target, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
        body,
        signal: deadline,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        chunks.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (size >= SNIPPET_BYTES) break; // the rest is never read: the connection is dropped
      }
      if (size >= SNIPPET_BYTES) response.body.destroy();
      return {
        status: response.statusCode,
        headers: response.headers,
        snippet: Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8'),
        latencyMs: elapsed(),
      };
    } catch (error) {
      if (error instanceof DeliveryError) throw new DeliveryError(error.kind, error.message, elapsed());
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof DeliveryError) throw new DeliveryError(cause.kind, cause.message, elapsed());
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError' || /Timeout/.test((error as { code?: string }).code ?? '')) {
        throw new DeliveryError('timeout', `no response within ${this.policy.timeoutMs} ms`, elapsed());
      }
      throw new DeliveryError('network', `connection failed: ${(error as Error).message}`, elapsed());
    }
  }

  /**
   * A document exchange for the federation module (an identity provider's discovery document, JWKS, token endpoint),
   * as a WHATWG Response, which OpenID Connect libraries take through their custom fetch: the same address checks as a
   * delivery, no redirects followed (oauth4webapi asks for `redirect: 'manual'` anyway), the body read up to
   * `maxBytes` (a longer one is refused, not cut: a truncated JSON document would fail later and less clearly).
   */
  async fetch(url: string, init: DocumentRequest = {}, maxBytes = DOCUMENT_BYTES): Promise<Response> {
    const target = new URL(url);
    if (target.protocol !== 'https:' && target.protocol !== 'http:') throw new DeliveryError('blocked', `${target.protocol} URLs are not fetched`);
    this.checkLiteral(target);
    const signal = init.signal ? AbortSignal.any([init.signal, this.deadline()]) : this.deadline();
    try {
      const response = await request(target, {
        method: (init.method ?? 'GET') as 'GET',
        dispatcher: this.agent,
        headers: { 'user-agent': DOCUMENT_USER_AGENT, ...init.headers },
        body: init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : init.body instanceof URLSearchParams ? init.body.toString() : Buffer.from(init.body as Uint8Array),
        signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          response.body.destroy();
          throw new DeliveryError('network', `${target.origin} answered more than ${maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(response.headers)) {
        for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
      }
      // A status that has no body (RFC 9110 section 6.4.1) takes none, or Response refuses it.
      const bodyless = response.statusCode === 204 || response.statusCode === 205 || response.statusCode === 304;
      return new Response(bodyless ? null : Buffer.concat(chunks), { status: response.statusCode, headers });
    } catch (error) {
      if (error instanceof DeliveryError) throw error;
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof DeliveryError) throw cause;
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError' || /Timeout/.test((error as { code?: string }).code ?? '')) {
        throw new DeliveryError('timeout', `no response within ${this.policy.timeoutMs} ms`);
      }
      throw new DeliveryError('network', `connection failed: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
