/** RFC 8252 section 8.3: loopback hosts, by literal address or the name localhost (never a prefix match). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}
