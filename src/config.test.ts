import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';

describe('parseConfig', () => {
  it('has working defaults for development', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({ env: 'development', port: 3000, host: '127.0.0.1', issuer: 'http://localhost:3000', dataDir: './.data' });
    expect(config.audience).toBe(config.issuer);
    expect(config.secretsKey).toBeUndefined();
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      parseConfig({ PORT: 'eighty', ISSUER: 'not a url', DATABASE_URL: 'mysql://x', SECRETS_KEY: 'short', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'ISSUER', 'DATABASE_URL', 'SECRETS_KEY', 'LOG_LEVEL', 'REDIS_URL']) expect(problems).toContain(name);
    expect((error as ConfigError).message).toMatch(/^Invalid configuration:\n {2}- /);
  });

  it('requires SECRETS_KEY in production', () => {
    expect(() => parseConfig({ NODE_ENV: 'production' })).toThrow('SECRETS_KEY is required in production');
    const key = Buffer.alloc(32, 1);
    expect(parseConfig({ NODE_ENV: 'production', SECRETS_KEY: key.toString('base64') }).secretsKey).toEqual(key);
    expect(parseConfig({ SECRETS_KEY: key.toString('hex') }).secretsKey).toEqual(key);
  });

  it('trims a trailing slash from the issuer', () => {
    expect(parseConfig({ ISSUER: 'https://auth.example.com/' }).issuer).toBe('https://auth.example.com');
  });
});
