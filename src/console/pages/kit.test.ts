import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { ApiAnswer } from '../api.js';
import { errorsOf, noticeBook } from './kit.js';

const refusal = (description: string): ApiAnswer => ({ status: 400, body: { error: 'invalid_request', error_description: description }, headers: {}, text: '' });
const sentWith = (query: Record<string, unknown>) => ({ query }) as unknown as FastifyRequest;

describe('noticeBook', () => {
  const notices = noticeBook({ saved: 'Saved.' });

  it("shows only its own table's sentences: a link names a key, never the words", () => {
    expect(notices.of(sentWith({ notice: 'saved' }))).toBe('Saved.');
    expect(notices.of(sentWith({ notice: 'Your account is locked: call +1 555 0100' }))).toBeUndefined();
    expect(notices.of(sentWith({ notice: 'constructor' }))).toBeUndefined();
    expect(notices.of(sentWith({}))).toBeUndefined();
  });
});

describe('errorsOf', () => {
  it('puts a refusal next to the field it names, a part of a field included, and anything else on the page', () => {
    expect(errorsOf(refusal('body.url must use https'), ['url'])).toEqual({ fields: { url: 'body.url must use https' } });
    expect(errorsOf(refusal('body.redirect_uris[0] must use https'), ['redirect_uris']).fields).toHaveProperty('redirect_uris');
    const nested = 'body.role_mapping.values.x must be equal to one of the allowed values';
    expect(errorsOf(refusal(nested), ['role_mapping_values'], { role_mapping: 'role_mapping_values' })).toEqual({ fields: { role_mapping_values: nested } });
    expect(errorsOf(refusal('body.other must be a string'), ['url'])).toEqual({ fields: {}, page: 'body.other must be a string' });
    expect(errorsOf(refusal('the app is suspended'), ['url'])).toEqual({ fields: {}, page: 'the app is suspended' });
  });
});
