import type { FastifyBaseLogger } from 'fastify';
import type { AccessService } from '../access/index.js';
import type { MemoryService } from '../memory/index.js';
import type { HttpContext } from './context.js';

/**
 * Deleting a user (`DELETE /users/{id}`, and an agent through `DELETE /agents/{id}`). The relational
 * part is one transaction (`AuthService.deleteUser`): the user and its agents go with their grants,
 * keys, memberships, roles and search history; their tenant datasets go to the tenant's owner; their
 * personal datasets lose every grant and are marked for deletion. Then each marked dataset is deleted
 * whole by the memory service (stores and per-dataset databases, items and stored files, its search
 * history, then its row), the way `DELETE /datasets/{id}` does.
 */
export async function removeUser(ctx: Pick<HttpContext, 'auth' | 'access' | 'memory'>, userId: string, log: FastifyBaseLogger): Promise<void> {
  await ctx.auth.deleteUser(userId);
  await finishDatasetDeletions(ctx, log);
}

/**
 * Deletes every dataset marked for deletion. One that fails stays marked, out of everyone's reach,
 * and is tried again by the next user deletion and at the next start; the stores go before the row,
 * so the row still says where they are.
 */
export async function finishDatasetDeletions(ctx: { access: AccessService; memory: MemoryService }, log: Pick<FastifyBaseLogger, 'error'>): Promise<void> {
  for (const dataset of await ctx.access.pendingDatasetDeletions()) {
    try {
      await ctx.memory.datasets.delete(dataset);
    } catch (error) {
      log.error(
        { datasetId: dataset.id, error: { message: String((error as Error)?.message ?? error).slice(0, 300) } },
        "could not delete a deleted user's dataset; it is tried again at the next user deletion and the next start",
      );
    }
  }
}
