import type { MaybePromise } from "./types.ts";

/**
 * Compute a value that may be a promise and continue with it — synchronously when it
 * is not: the embedded stores answer at once, so a gateway on them starts in one step.
 * A throw from `compute` or `next`, sync or async, goes to `onError`.
 */
export function andThen<T, R>(
  compute: () => MaybePromise<T>,
  next: (v: T) => MaybePromise<R>,
  onError: (err: unknown) => MaybePromise<R>,
): MaybePromise<R> {
  let value: MaybePromise<T>;
  try {
    value = compute();
  } catch (err) {
    return onError(err);
  }
  if (value instanceof Promise) return value.then(next).catch(onError);
  try {
    return next(value);
  } catch (err) {
    return onError(err);
  }
}
