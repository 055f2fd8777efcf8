// The sandboxes module: sandbox tenants put together (the tenancy's tenant and admin, the incidents service's sample
// incidents), the operator's routes under /api/v1/platform/sandboxes, and the sweep that disables expired sandboxes
// and removes them after the grace period, on a timer where the process runs jobs.
import type { FeatureModule } from '../module.js';
import { registerSandboxRoutes } from './routes.js';
import { SandboxService } from './service.js';

declare module '../module.js' {
  interface Services {
    sandboxes: SandboxService;
  }
}

export const sandboxesModule: FeatureModule = {
  name: 'sandboxes',
  // Its tenants are the tenancy's; its samples, the incidents'.
  entities: [],
  tenantOwned: [],
  platformWide: [],
  create(core, { tenancy, incidents }) {
    const sandboxes = new SandboxService(core.orm, tenancy, incidents, core.tokens, core.config, core.clock, core.logger);
    const sweepQuietly = () => void sandboxes.sweep().catch((e) => core.logger.warn({ err: e }, 'sandbox sweep failed; it runs again at the next interval'));
    let timer: NodeJS.Timeout | undefined;
    return {
      services: { sandboxes },
      routes: (app) => registerSandboxRoutes(app, { sandboxes, tokens: core.tokens }),
      async start({ background }) {
        // One process of those that run jobs is enough; several do no harm (each sandbox is swept once).
        if (!background || !core.runsJobs) return;
        timer = setInterval(sweepQuietly, core.config.sandboxes.sweepInterval * 1000);
        timer.unref();
      },
      stop: () => clearInterval(timer),
    };
  },
};
