// The OAuth module's part in deleting an app (platform/lifecycle.ts): every authorization of the app goes, with what
// descends from it. Grants take their codes, refresh tokens and remembered access tokens with them (foreign keys on
// delete cascade); pending sign-in requests and consents go too. Access tokens already handed out need no revoking
// one by one: a token of a deleted app is refused on every use (platform/clients.ts `admit`).
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppLifecycleListener, LifecycleChange } from '../platform/lifecycle.js';
import { AuthorizationRequest, Consent, Grant } from './entities.js';

export const oauthAppDeletion: AppLifecycleListener = {
  async deleted(em: EntityManager, { app }: LifecycleChange) {
    const of = { appId: app.id, tenantId: app.tenantId };
    return {
      grants: await em.nativeDelete(Grant, of),
      authorization_requests: await em.nativeDelete(AuthorizationRequest, of),
      consents: await em.nativeDelete(Consent, of),
    };
  },
};
