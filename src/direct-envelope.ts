// envelop's context building and execution for a known document on the fast path (fast-path.ts): the same plugins'
// hooks, called in the same order with the same arguments, without what envelop builds around them on every request
// (instrumented wrappers, parse and validate closures, a promise-helper chain per hook). Only for plugins whose hooks
// are those two kinds and the others a known document skips; any other plugin (instrumentation, onEnveloped, a
// context error handler) keeps envelop's own (createDirectEnvelope returns null).
import type { ExecutionArgs, GraphQLSchema } from 'graphql';

type Extend = (extension: object) => void;

type ContextHook = (payload: { context: object; extendContext: Extend; breakContextBuilding(): void }) => unknown;
type AfterContext = (payload: { context: object; extendContext: Extend }) => unknown;

type ExecuteFn = (args: ExecutionArgs) => unknown;
type ExecuteDone = (payload: { args: ExecutionArgs; result: unknown; setResult(result: unknown): void }) => unknown;
type ExecuteHook = (payload: {
  executeFn: ExecuteFn;
  setExecuteFn(fn: ExecuteFn): void;
  setResultAndStopExecution(result: unknown): void;
  context: object;
  extendContext: Extend;
  args: ExecutionArgs;
}) => unknown;

/** The hooks of an envelop plugin this module reads, and those that make it step aside. */
interface EnvelopPlugin {
  onContextBuilding?: ContextHook;
  onExecute?: ExecuteHook;
  onEnveloped?: unknown;
  instrumentation?: unknown;
}

export interface DirectEnvelope {
  schema: GraphQLSchema;
  /** envelop's contextFactory: the context hooks, then what they returned, on the context itself. */
  contextOf(context: object): object | Promise<object>;
  /** envelop's execute: the execute hooks, the execute function they settled on, then their onExecuteDone. */
  execute(args: ExecutionArgs): unknown;
}

/** Awaited only when it is a promise: an await of a plain value still costs a promise and a turn. */
export const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T> | null)?.then === 'function';

/** As envelop's own execute before an engine plugin sets one. */
const noEngine: ExecuteFn = () => {
  throw new Error('No `execute` function found! Register it using "useEngine" plugin.');
};

/** A hook's answer as inTurn reads it when it cannot stop the others: waited for if it is a promise. */
const goOn = (answer: unknown): false | Promise<false> => (isPromise(answer) ? answer.then(() => false) : false);

/** Calls each hook in turn, awaiting only what is a promise; `each` returns true to stop early. */
function inTurn<T>(hooks: readonly T[], each: (hook: T) => unknown, from = 0): void | Promise<void> {
  for (let i = from; i < hooks.length; i++) {
    const step = each(hooks[i]);
    if (isPromise(step)) return step.then((stop) => (stop === true ? undefined : inTurn(hooks, each, i + 1)));
    if (step === true) return;
  }
}

/** Calls each hook in turn, keeping what it returns (its after-hooks, as envelop does), until `stopped()` says so. */
function collectInTurn<H, K>(hooks: readonly H[], call: (hook: H) => unknown, kept: K[], stopped: () => boolean): void | Promise<void> {
  return inTurn(hooks, (hook) => {
    const keep = (value: unknown) => {
      if (value) kept.push(value as K);
      return stopped();
    };
    const returned = call(hook);
    return isPromise(returned) ? returned.then(keep) : keep(returned);
  });
}

/** The fast path's envelope over these plugins (Yoga's list, in order), or null where envelop must run itself. */
export function createDirectEnvelope(listed: ReadonlyArray<EnvelopPlugin | false | null | undefined>, schemaOf: () => GraphQLSchema | undefined): DirectEnvelope | null {
  // Yoga's list may hold `false` for a plugin left out by its options; envelop skips those too.
  const plugins = listed.filter((plugin): plugin is EnvelopPlugin => Boolean(plugin));
  if (plugins.some((plugin) => plugin.instrumentation || plugin.onEnveloped || ('onContextError' in plugin && plugin.onContextError))) return null;
  // Asked only now: with no onEnveloped hook, getting it runs nothing of a plugin's.
  const schema = schemaOf();
  if (!schema) return null;
  const contextHooks = plugins.flatMap((plugin) => (plugin.onContextBuilding ? [plugin.onContextBuilding] : []));
  const executeHooks = plugins.flatMap((plugin) => (plugin.onExecute ? [plugin.onExecute] : []));

  function contextOf(context: object): object | Promise<object> {
    const extendContext: Extend = (extension) => void Object.assign(context, extension);
    const after: AfterContext[] = [];
    let broken = false;
    const breakContextBuilding = () => void (broken = true);
    const built = collectInTurn(contextHooks, (hook) => hook({ context, extendContext, breakContextBuilding }), after, () => broken);
    const finish = (): object | Promise<object> => {
      if (broken) return context;
      const done = inTurn(after, (hook) => goOn(hook({ context, extendContext })));
      return isPromise(done) ? done.then(() => context) : context;
    };
    return isPromise(built) ? built.then(finish) : finish();
  }

  function execute(args: ExecutionArgs): unknown {
    const context = (args.contextValue ?? {}) as object;
    let executeFn = noEngine;
    let result: unknown;
    let stopped = false;
    const afterCalls: Array<{ onExecuteDone?: ExecuteDone }> = [];
    const setExecuteFn = (fn: ExecuteFn) => void (executeFn = fn);
    const setResultAndStopExecution = (stopResult: unknown) => {
      result = stopResult;
      stopped = true;
    };
    const extendContext: Extend = (extension) => {
      if (typeof extension !== 'object') throw new Error(`Invalid context extension provided! Expected "object", got: "${JSON.stringify(extension)}" (${typeof extension})`);
      Object.assign(context, extension);
    };
    const hooked = collectInTurn(executeHooks, (hook) => hook({ executeFn, setExecuteFn, setResultAndStopExecution, context, extendContext, args }), afterCalls, () => stopped);
    const done = (settled: unknown): unknown => {
      result = settled;
      const setResult = (next: unknown) => void (result = next);
      // A query's or mutation's result is one result: onExecuteDone's onNext and onEnd are for streams, which the
      // fast path never runs (envelop, too, applies them to async iterables only).
      const finished = inTurn(afterCalls, (after) => goOn(after.onExecuteDone?.({ args, result, setResult })));
      return isPromise(finished) ? finished.then(() => result) : result;
    };
    const run = (): unknown => {
      const executed = result || executeFn({ ...args, contextValue: context });
      return isPromise(executed) ? executed.then(done) : done(executed);
    };
    return isPromise(hooked) ? hooked.then(run) : run();
  }

  return { schema, contextOf, execute };
}
