// A safety net and a witness for SSRF tests: while installed, every TCP connect in this process is
// recorded with the address it is about to use, and any address outside 127.0.0.0/8 (or ::1) is refused
// before a packet leaves. A host name that would go to the system resolver is refused too, so no real
// DNS query is made. Tests assert on `attempts` that a blocked address was never connected to.
import net from 'node:net';
import type { LookupAddress } from 'node:dns';

export interface ConnectAttempt {
  /** The host the socket was asked to reach (a name or a literal). */
  host: string;
  /** The address it was about to connect to (after the lookup, for a name). */
  address: string;
  port: number;
}

export interface ConnectGuard {
  /** Connects that were let through (loopback only). */
  readonly attempts: ConnectAttempt[];
  /** Connects the guard refused: each is a bug (or a test that leaves the machine). */
  readonly refused: ConnectAttempt[];
  restore(): void;
}

function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  return a === '::1' || (net.isIPv4(a) && a.startsWith('127.'));
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) => void;
type LookupFunction = (hostname: string, options: unknown, callback: LookupCallback) => void;

export function guardConnections(): ConnectGuard {
  const attempts: ConnectAttempt[] = [];
  const refused: ConnectAttempt[] = [];
  const original = net.Socket.prototype.connect;

  // net.connect hands Socket#connect its normalized arguments as an array; tls.connect passes an object.
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    const options = (Array.isArray(first) ? first[0] : first) as (Omit<net.TcpSocketConnectOpts, 'lookup'> & { path?: string; lookup?: LookupFunction }) | undefined;
    if (!options || typeof options !== 'object' || options.path !== undefined || options.port === undefined) {
      return original.apply(this, args as Parameters<typeof original>);
    }
    const host = options.host ?? 'localhost';
    const port = Number(options.port);
    const refuse = (address: string) => {
      refused.push({ host, address, port });
      return new Error(`connect guard: refused to connect to ${address} (${host}:${port}); tests may only reach loopback`);
    };
    if (net.isIP(host)) {
      if (!isLoopback(host)) {
        const error = refuse(host);
        process.nextTick(() => this.destroy(error));
        return this;
      }
      attempts.push({ host, address: host, port });
    } else if (!options.lookup) {
      const error = refuse(`${host} (system resolver)`);
      process.nextTick(() => this.destroy(error));
      return this;
    } else {
      const lookup = options.lookup;
      options.lookup = (hostname, lookupOptions, callback) =>
        lookup(hostname, lookupOptions, (error, address, family) => {
          if (error) return callback(error, address, family);
          const list = Array.isArray(address) ? address.map((a) => a.address) : [String(address)];
          const outside = list.filter((a) => !isLoopback(a));
          if (outside.length) return callback(refuse(outside.join(', ')) as NodeJS.ErrnoException);
          for (const a of list) attempts.push({ host, address: a, port });
          return callback(null, address, family);
        });
    }
    return original.apply(this, args as Parameters<typeof original>);
  } as typeof original;

  return {
    attempts,
    refused,
    restore: () => {
      net.Socket.prototype.connect = original;
    },
  };
}
