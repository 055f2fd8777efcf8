// Integration requests (README "Integration requests"): a tenant admin, or an app for itself, asks the operators for a
// curated GraphQL bundle, more scopes, enterprise federation, a sandbox or platform access; an operator approves or
// denies. Approval does the work through the service that owns it (the bundles' assignment, the platform's tenant
// scopes, the sandboxes), in the deciding transaction where that service can join it; every step is audited in the
// requester's tenant, logged, and told to the tenant's admins by the operational event `integration_request.decided`,
// written in the deciding transaction.
import { LockMode, type EntityManager } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { BundleReleases } from '../bundles/releases.js';
import type { Clock } from '../clock.js';
import { Conflict, Forbidden, InvalidRequest, InvalidScope, NotFound, TesseraError } from '../errors.js';
import { forTenant } from '../db/tenant.js';
import { SCOPE_ADMIN } from '../http/auth.js';
import { afterCursor, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { newId } from '../ids.js';
import type { Principal } from '../keys/tokens.js';
import type { Logger } from '../observability/log.js';
import type { ClientDirectory } from '../platform/clients.js';
import type { PlatformService } from '../platform/service.js';
import type { SandboxService } from '../sandboxes/service.js';
import type { SandboxFieldNames, TenancyService } from '../tenancy/service.js';
import type { EventData } from '../webhooks/event-schemas.js';
import type { EventOutbox } from '../webhooks/outbox.js';
import { IntegrationRequest, type RequestKind, type RequestStatus } from './entities.js';
import { detailsOf, type RequestBody } from './kinds.js';

export type { IntegrationRequest } from './entities.js';

/** A tenant holds at most this many undecided requests: the operators' queue is not a tenant's to flood. */
export const MAX_PENDING_PER_TENANT = 50;

/** The admin of a sandbox made from a request that names none, and asked by no user (an app): a reserved domain. */
const UNNAMED_SANDBOX_ADMIN = 'admin@sandbox.invalid';

/** How a request's details name a sandbox's fields, for the errors an approval may meet (a slug taken meanwhile). */
const REQUEST_SANDBOX_FIELDS: SandboxFieldNames = { name: 'details.name', slug: 'details.slug', adminEmail: 'details.admin_email', ttlDays: 'SANDBOX_TTL_DAYS' };

/** Who asks: a tenant admin, or an app for itself (its own token, or a user's token through it). */
export interface Requester {
  tenantId: string;
  /** The token's subject: a user id, or the app's client id. */
  subject: string;
  /** The app asking for itself; null for a tenant admin. */
  clientId: string | null;
}

export interface RequestFilter {
  status?: RequestStatus;
  tenantId?: string;
  limit: number;
  cursor?: string;
}

/** What approving one kind did: the result recorded, and what to do once the decision has committed. */
interface Fulfilment {
  result: Record<string, unknown> | null;
  afterCommit?: () => void;
}

export type Decision = 'approved' | 'denied';

export class IntegrationRequestService {
  constructor(
    private readonly platform: PlatformService,
    private readonly clients: ClientDirectory,
    private readonly tenancy: TenancyService,
    private readonly bundles: BundleReleases,
    private readonly sandboxes: SandboxService,
    private readonly events: EventOutbox,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * The caller as a requester: a tenant admin, or an app of the tenant asking for itself (a token with no admin scope,
   * issued to the app). A token of neither (the operator's, a tenant token of no app) may not ask.
   */
  async requesterOf(principal: Principal): Promise<Requester> {
    const tenantId = principal.tenantId;
    if (!tenantId) throw new Forbidden('integration requests are made by a tenant admin or an app: this token belongs to no tenant');
    if (principal.scopes.has(SCOPE_ADMIN)) return { tenantId, subject: principal.subject, clientId: null };
    const record = await this.clients.find(principal.clientId);
    if (!record || record.app.tenantId !== tenantId) throw Forbidden.missingScope(SCOPE_ADMIN);
    return { tenantId, subject: principal.subject, clientId: record.app.id };
  }

  /** A new request, pending; refused naming the field when the kind's details are wrong. */
  async create(em: EntityManager, requester: Requester, body: RequestBody): Promise<IntegrationRequest> {
    const details = detailsOf(body);
    const justification = body.justification.trim();
    if (!justification) throw InvalidRequest.field('body.justification', 'must say why: it must not be blank');
    await this.checkDetails(em, requester, body.kind, details);
    const created = await em.transactional(async (tx) => {
      const pending = await tx.count(IntegrationRequest, { status: 'pending' });
      if (pending >= MAX_PENDING_PER_TENANT) throw new Conflict(`the tenant already has ${pending} pending integration requests, the most it may have; wait for a decision`);
      const request = tx.create(IntegrationRequest, {
        id: newId('irq'),
        tenantId: requester.tenantId,
        requestedBy: requester.subject,
        requesterClientId: requester.clientId,
        kind: body.kind,
        details,
        justification,
        status: 'pending',
        decisionNote: null,
        decidedBy: null,
        decidedAt: null,
        result: null,
        createdAt: new Date(this.clock.now()),
      });
      this.audit.record(tx, {
        tenantId: requester.tenantId,
        actor: requester.subject,
        action: 'integration_request.created',
        targetType: 'integration_request',
        targetId: request.id,
        details: { kind: body.kind, details, requester_client_id: requester.clientId },
      });
      return request;
    });
    this.log.info({ tenant_id: requester.tenantId, request_id: created.id, kind: created.kind, actor: requester.subject, client_id: requester.clientId }, 'integration request created');
    return created;
  }

  /** What only the database can say about a request's details: the bundle is published, the app is the tenant's. */
  private async checkDetails(em: EntityManager, requester: Requester, kind: RequestKind, details: Record<string, unknown>): Promise<void> {
    if (kind === 'bundle') {
      const clientId = (details.client_id as string | undefined) ?? requester.clientId;
      if (!clientId) throw InvalidRequest.field('body.client_id', 'is required when a tenant admin asks: the app that is to hold the bundle');
      if (requester.clientId && clientId !== requester.clientId) throw InvalidRequest.field('body.client_id', "must be the requesting app's own client_id: an app asks only for itself");
      details.client_id = clientId;
      await this.platform.getApp(em, clientId).catch((error) => {
        throw error instanceof NotFound ? InvalidRequest.field('body.client_id', `names no app of this tenant: ${clientId}`) : error;
      });
      await this.bundles.bundleVersion(details.bundle as string).catch((error) => {
        throw error instanceof NotFound ? InvalidRequest.field('body.bundle', `names no published bundle: ${details.bundle as string}`) : error;
      });
    } else if (kind === 'scopes') {
      await this.platform.scopes.assertPublished(details.scopes as string[], 'body.scopes');
      const available = new Set((await this.platform.scopes.availableTo(requester.tenantId)).scopes.map((s) => s.name));
      if ((details.scopes as string[]).every((s) => available.has(s))) throw new Conflict('the tenant may already use every scope body.scopes names');
    } else if (kind === 'sandbox') {
      // A sandbox is a try-out of production, not a place to grow further sandboxes from.
      if (await this.tenancy.isSandbox(requester.tenantId)) throw new Forbidden('a sandbox tenant cannot request a sandbox');
    }
  }

  /** What the requester may see: a tenant admin the tenant's requests (the tenant filter), an app its own. */
  private visibleTo(requester: Requester): Record<string, unknown> {
    return requester.clientId ? { requesterClientId: requester.clientId } : {};
  }

  /** The requester's requests, newest first. */
  async list(em: EntityManager, requester: Requester, filter: Omit<RequestFilter, 'tenantId'>): Promise<Page<IntegrationRequest>> {
    const where = { ...this.visibleTo(requester), ...(filter.status ? { status: filter.status } : {}), ...afterCursor(decodeCursor(filter.cursor), 'desc') };
    const rows = await em.find(IntegrationRequest, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: filter.limit + 1 });
    return toPage(rows, filter.limit);
  }

  /** One of the requester's requests; another tenant's, or another app's, is not found. */
  async get(em: EntityManager, requester: Requester, id: string): Promise<IntegrationRequest> {
    const request = await em.findOne(IntegrationRequest, { id, ...this.visibleTo(requester) });
    if (!request) throw new NotFound(`no integration request ${id}`);
    return request;
  }

  /** Every tenant's requests, newest first, for the operators. */
  async listAll(em: EntityManager, filter: RequestFilter): Promise<Page<IntegrationRequest>> {
    const where = {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.tenantId ? { tenantId: filter.tenantId } : {}),
      ...afterCursor(decodeCursor(filter.cursor), 'desc'),
    };
    const rows = await em.find(IntegrationRequest, where, { filters: false, orderBy: { createdAt: 'desc', id: 'desc' }, limit: filter.limit + 1 });
    return toPage(rows, filter.limit);
  }

  /** Any tenant's request, for the operators. */
  async getAny(em: EntityManager, id: string): Promise<IntegrationRequest> {
    const request = await em.findOne(IntegrationRequest, { id }, { filters: false });
    if (!request) throw new NotFound(`no integration request ${id}`);
    return request;
  }

  /** Approves a pending request and does what it asks (see `fulfil`); deciding twice is a conflict. */
  async approve(em: EntityManager, id: string, actor: string, note: string | null): Promise<IntegrationRequest> {
    return this.decide(em, id, 'approved', actor, note?.trim() || null);
  }

  /** Denies a pending request; the note says why, and is required. */
  async deny(em: EntityManager, id: string, actor: string, note: string, field = 'body.note'): Promise<IntegrationRequest> {
    if (!note.trim()) throw InvalidRequest.field(field, 'is required to deny a request: say why');
    return this.decide(em, id, 'denied', actor, note.trim());
  }

  /**
   * The decision, in one transaction of the request's tenant with its row locked: two operators deciding at once are
   * decided one after the other, and the second finds it decided (409). The approval's work runs under the lock, so it
   * is done once; the decision, its audit record and its event commit together.
   */
  private async decide(em: EntityManager, id: string, decision: Decision, actor: string, note: string | null): Promise<IntegrationRequest> {
    const { tenantId } = await this.getAny(em, id);
    let afterCommit: (() => void) | undefined;
    const decided = await forTenant(em, tenantId).transactional(async (tx) => {
      const request = await tx.findOne(IntegrationRequest, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!request) throw new NotFound(`no integration request ${id}`);
      if (request.status !== 'pending') throw new Conflict(`integration request ${id} was already ${request.status}`);
      const fulfilment: Fulfilment = decision === 'approved' ? await this.fulfil(tx, request, actor) : { result: null };
      afterCommit = fulfilment.afterCommit;
      const decidedAt = new Date(this.clock.now());
      Object.assign(request, { status: decision, decisionNote: note, decidedBy: actor, decidedAt, result: fulfilment.result });
      this.audit.record(tx, {
        tenantId,
        actor,
        action: `integration_request.${decision}`,
        targetType: 'integration_request',
        targetId: id,
        details: { kind: request.kind, note, ...(fulfilment.result ? { result: fulfilment.result } : {}) },
      });
      const data = {
        request_id: id,
        kind: request.kind,
        status: decision,
        note,
        decided_at: decidedAt.toISOString(),
        ...(fulfilment.result ? { result: fulfilment.result as EventData<'integration_request.decided'>['result'] } : {}),
      } satisfies EventData<'integration_request.decided'>;
      await this.events.record(tx, tenantId, 'integration_request.decided', data);
      return request;
    });
    afterCommit?.();
    this.log.info({ tenant_id: tenantId, request_id: id, kind: decided.kind, actor, note }, `integration request ${decision}`);
    return decided;
  }

  /**
   * What approving each kind does, through the service that owns it:
   * - bundle: the app is assigned the bundle (the bundles' own transaction, under this request's lock: done once, and
   *   assigning a held bundle changes nothing);
   * - scopes: the scopes are added to the tenant's choice, in this transaction (a tenant that may use every published
   *   scope keeps that);
   * - sandbox: the sandbox, its admin and its sample incidents, in this transaction; the requester claims the admin's
   *   password once (`claimSandboxCredentials`);
   * - federation, platform_access: set up by an operator by hand (federation through the tenant's identity
   *   providers); the approval records the decision and its note.
   */
  private async fulfil(tx: EntityManager, request: IntegrationRequest, actor: string): Promise<Fulfilment> {
    const details = request.details;
    switch (request.kind) {
      case 'bundle':
        return this.assignBundle(tx, details.bundle as string, details.client_id as string, actor);
      case 'scopes':
        return this.addScopes(tx, request.tenantId, details.scopes as string[], actor);
      case 'sandbox':
        return this.makeSandbox(tx, request, actor);
      case 'federation':
      case 'platform_access':
        return { result: null };
    }
  }

  private async assignBundle(tx: EntityManager, bundle: string, clientId: string, actor: string): Promise<Fulfilment> {
    const app = await this.platform.getApp(tx, clientId).catch((error) => {
      throw error instanceof NotFound ? new Conflict(`app ${clientId} no longer exists; deny the request instead`) : error;
    });
    try {
      const { assigned } = await this.bundles.assign(app, bundle, actor);
      return { result: { bundle, client_id: app.id, assigned } };
    } catch (error) {
      // The bundle was withdrawn since the request was made: the request can only be denied now.
      if (error instanceof TesseraError && (error.status === 404 || error.status === 409)) throw new Conflict(`bundle ${bundle} cannot be assigned: ${error.description}`);
      throw error;
    }
  }

  private async addScopes(tx: EntityManager, tenantId: string, requested: string[], actor: string): Promise<Fulfilment> {
    const { scopes } = this.platform;
    await scopes.assertPublished(requested, 'details.scopes').catch((error) => {
      throw error instanceof InvalidScope ? new Conflict(`${error.description}; deny the request instead`) : error;
    });
    const current = await scopes.availableTo(tenantId);
    const names = current.scopes.map((s) => s.name);
    if (!current.restricted) return { result: { scopes: names, added: [], restricted: false } };
    const added = requested.filter((s) => !names.includes(s));
    const chosen = [...new Set([...names, ...added])].sort();
    if (added.length) await this.platform.chooseTenantScopes(tx, tenantId, chosen, actor);
    return {
      result: { scopes: chosen, added, restricted: true },
      // What this process read of the tenant's scopes inside the transaction is the old choice: read it again.
      afterCommit: () => {
        scopes.forget(tenantId);
        this.clients.forgetAll();
      },
    };
  }

  private async makeSandbox(tx: EntityManager, request: IntegrationRequest, actor: string): Promise<Fulfilment> {
    const details = request.details as { name: string; slug?: string; admin_email?: string };
    const asker = await this.tenancy.user(tx, request.requestedBy);
    const adminEmail = details.admin_email ?? asker?.email ?? UNNAMED_SANDBOX_ADMIN;
    const created = await this.sandboxes.create(tx, { name: details.name, slug: details.slug, adminEmail, parentTenantId: request.tenantId }, actor, REQUEST_SANDBOX_FIELDS);
    return {
      result: {
        tenant_id: created.tenant.id,
        tenant_slug: created.tenant.slug,
        admin_user_id: created.admin.id,
        admin_email: created.admin.email,
        expires_at: created.tenant.expiresAt!.toISOString(),
      },
    };
  }

  /**
   * The sandbox admin's password, for whoever asked for the sandbox, once: a new one is set (the one made with the
   * sandbox was never shown), so no password is kept anywhere but as its hash. With a tenant-admin token of the
   * sandbox. A second claim is a conflict.
   */
  async claimSandboxCredentials(em: EntityManager, requester: Requester, id: string) {
    const claimed = await em.transactional(async (tx) => {
      const request = await tx.findOne(IntegrationRequest, { id, ...this.visibleTo(requester) }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!request) throw new NotFound(`no integration request ${id}`);
      if (request.kind !== 'sandbox' || request.status !== 'approved' || !request.result) throw new Conflict(`integration request ${id} is not an approved sandbox request`);
      const result = request.result as { tenant_id: string; tenant_slug: string; admin_user_id: string; admin_email: string; expires_at: string; credentials_claimed_at?: string };
      if (result.credentials_claimed_at) throw new Conflict(`the sandbox admin's password was already handed over, at ${result.credentials_claimed_at}`);
      const standing = await this.tenancy.standing(result.tenant_id);
      if (!standing || this.tenancy.hasExpired(standing)) throw new Conflict(`sandbox ${result.tenant_slug} has expired`);
      const password = this.sandboxes.newPassword();
      await this.tenancy.setPassword(tx, result.tenant_id, result.admin_user_id, password, requester.subject);
      const claimedAt = new Date(this.clock.now()).toISOString();
      request.result = { ...result, credentials_claimed_at: claimedAt, credentials_claimed_by: requester.subject };
      this.audit.record(tx, {
        tenantId: requester.tenantId,
        actor: requester.subject,
        action: 'integration_request.credentials_claimed',
        targetType: 'integration_request',
        targetId: id,
        details: { sandbox_tenant_id: result.tenant_id, admin_user_id: result.admin_user_id },
      });
      return { ...result, admin_password: password };
    });
    const token = await this.sandboxes.adminToken(claimed.tenant_id, claimed.admin_user_id);
    this.log.info({ tenant_id: requester.tenantId, request_id: id, sandbox_tenant_id: claimed.tenant_id, actor: requester.subject }, 'sandbox admin credentials claimed');
    return {
      tenant_id: claimed.tenant_id,
      tenant_slug: claimed.tenant_slug,
      admin_user_id: claimed.admin_user_id,
      admin_email: claimed.admin_email,
      admin_password: claimed.admin_password,
      admin_access_token: token.token,
      expires_at: claimed.expires_at,
    };
  }
}
