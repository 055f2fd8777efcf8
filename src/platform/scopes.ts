// The scope catalog: the published scopes an app may request. Unpublished scopes never appear in the catalog
// and can never be requested.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import { InvalidScope } from '../errors.js';
import { Scope } from './entities.js';

/** The catalog changes only by migration, so a short in-process cache is safe. */
const CACHE_MS = 10_000;

export interface PublishedScope {
  name: string;
  description: string;
}

export class ScopeCatalog {
  private cache?: { at: number; scopes: PublishedScope[] };

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  async published(): Promise<PublishedScope[]> {
    if (!this.cache || this.clock.now() - this.cache.at > CACHE_MS) {
      const rows = await this.orm.em.fork().find(Scope, { published: true }, { orderBy: { name: 'asc' } });
      this.cache = { at: this.clock.now(), scopes: rows.map(({ name, description }) => ({ name, description })) };
    }
    return this.cache.scopes;
  }

  /** Refuses, naming `field`, any of `scopes` that is not published. */
  async assertPublished(scopes: string[], field: string): Promise<void> {
    const published = new Set((await this.published()).map((s) => s.name));
    const unknown = scopes.filter((s) => !published.has(s));
    if (unknown.length) throw new InvalidScope(`${field} names scopes that are not published: ${unknown.join(', ')}`);
  }
}
