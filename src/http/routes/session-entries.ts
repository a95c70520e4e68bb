import { z } from 'zod';
import { ApiError, bareError } from '../../errors.js';
import { SessionEntryTooLarge, type SessionOwner } from '../../memory/index.js';
import type { SessionStore } from '../../memory/sessions.js';
import { actorOf, authenticate } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { Uuid } from '../schemas.js';

const text = (max = 1_000_000) => z.string().max(max);
const FeedbackScore = z.number().int().min(1).max(5);
const ElementIds = z.object({ node_ids: z.array(text(255)).max(10_000).optional(), edge_ids: z.array(text(255)).max(10_000).optional() }).strict();

/** The reference's typed memory entries (`cognee.memory.entries`), each field as it validates them; unknown fields are refused. */
const QaEntryBody = z
  .object({
    type: z.literal('qa'),
    question: text(),
    answer: text(),
    context: text().optional().default(''),
    feedback_text: text().nullable().optional(),
    feedback_score: FeedbackScore.nullable().optional(),
    used_graph_element_ids: ElementIds.nullable().optional(),
  })
  .strict();
const TraceEntryBody = z
  .object({
    type: z.literal('trace'),
    origin_function: z
      .string()
      .max(10_000)
      .refine((s) => s.trim() !== '', 'value must be a non-empty string'),
    status: z.enum(['success', 'error']).optional().default('success'),
    method_params: z.record(z.string(), z.unknown()).nullable().optional(),
    method_return_value: z.unknown().optional(),
    memory_query: text().optional().default(''),
    memory_context: text().optional().default(''),
    error_message: text().optional().default(''),
    generate_feedback_with_llm: z.boolean().optional().default(false),
  })
  .strict();
const FeedbackEntryBody = z
  .object({
    type: z.literal('feedback'),
    qa_id: z.string().min(1).max(64),
    feedback_text: text().nullable().optional(),
    feedback_score: FeedbackScore.nullable().optional(),
  })
  .strict();
const SkillRunEntryBody = z.object({ type: z.literal('skill_run'), selected_skill_id: z.string().max(255) }).passthrough();

const RememberEntryBody = z
  .object({
    entry: z.discriminatedUnion('type', [QaEntryBody, TraceEntryBody, FeedbackEntryBody, SkillRunEntryBody]),
    dataset_name: z.string().min(1).max(255).optional().default('main_dataset'),
    dataset_id: Uuid.nullable().optional(),
    session_id: z.string().min(1).max(255).nullable().optional(),
    skill_improvement: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .strict();

/** The text of an upload when it is UTF-8 text (no NUL), else undefined. */
export function sessionText(bytes: Buffer): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    const decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes).trim();
    return decoded === '' ? undefined : decoded;
  } catch {
    return undefined;
  }
}

/** Stores texts as answer-only turns of the caller's session (remember with `session_id`); 413 past the entry limit, before anything is written. */
export async function storeSessionText(
  sessions: SessionStore,
  owner: SessionOwner,
  sessionId: string,
  datasetId: string,
  texts: readonly string[],
): Promise<void> {
  try {
    for (const answer of texts) sessions.checkSize({ question: '', context: '', answer });
    await sessions.touch(owner, sessionId, datasetId);
    for (const answer of texts) await sessions.addQa(owner, sessionId, datasetId, { question: '', context: '', answer });
  } catch (error) {
    if (error instanceof SessionEntryTooLarge) throw ApiError.detail(413, error.message);
    throw error;
  }
}

/** `POST /api/v1/remember/entry`: a QA turn, a trace step or feedback, stored in the caller's session. */
export function sessionEntryRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');

  app.post(
    '/api/v1/remember/entry',
    {
      schema: { tags: ['memory'], summary: 'Store a typed entry (qa, trace, feedback) in your session', security: SECURED, body: RememberEntryBody },
      preHandler: guard,
    },
    async (request) => {
      const started = Date.now();
      const { entry, session_id: sessionId, dataset_id: datasetId, dataset_name: datasetName } = request.body;
      if (entry.type === 'skill_run') {
        throw bareError(400, 'skill_run entries record runs of skills (remember with content_type=skills), which this server does not support yet.');
      }
      // As the reference's: session-backed entries need a session (its generic 400, naming nothing).
      if (!sessionId) throw bareError(400, 'Invalid remember request.');
      const actor = await actorOf(request, access);
      const owner = { userId: actor.subject.userId, tenantId: actor.subject.activeTenantId };
      // The session records the dataset its turns belong to: one the caller may write, never created here.
      const [dataset] = await access.datasets(actor, 'write', datasetId ? { ids: [datasetId] } : { names: [datasetName] });
      const result = {
        status: 'session_stored',
        dataset_name: dataset?.name ?? datasetName,
        dataset_id: dataset?.id ?? null,
        pipeline_run_id: null,
        items_processed: 0,
        elapsed_seconds: 0,
        session_ids: [sessionId],
        entry_type: entry.type,
      };
      try {
        if (entry.type === 'qa') {
          const id = await memory.sessions.addQa(owner, sessionId, dataset?.id ?? null, entry);
          return { ...result, entry_id: id, elapsed_seconds: (Date.now() - started) / 1000 };
        }
        if (entry.type === 'trace') {
          const { type: _type, generate_feedback_with_llm: _feedback, ...step } = entry;
          const id = await memory.sessions.addTrace(owner, sessionId, dataset?.id ?? null, {
            ...step,
            method_params: step.method_params ?? {},
            method_return_value: step.method_return_value ?? null,
          });
          return { ...result, entry_id: id, elapsed_seconds: (Date.now() - started) / 1000 };
        }
        const ok = await memory.sessions.addFeedback(owner, sessionId, entry.qa_id, entry.feedback_text ?? null, entry.feedback_score ?? null);
        const answer = { ...result, entry_id: entry.qa_id, elapsed_seconds: (Date.now() - started) / 1000 };
        // The reference answers 200 with status "errored" when the turn is not in the session.
        return ok ? answer : { ...answer, status: 'errored', error: `add_feedback: QA ${entry.qa_id} not found in session ${sessionId}` };
      } catch (error) {
        if (error instanceof SessionEntryTooLarge) throw ApiError.detail(413, error.message);
        throw error;
      }
    },
  );
}
