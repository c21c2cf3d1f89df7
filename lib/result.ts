/**
 * Expected outcomes are values, not exceptions: a duplicate vote, a bad signature or an invalid
 * definition is an `Err` with a stable code that reaches the client. Exceptions are for bugs.
 */
export type Ok<T> = { readonly ok: true; readonly value: T };
export type Err<E> = { readonly ok: false; readonly error: E };
export type Result<T, E> = Ok<T> | Err<E>;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function err<E>(error: E): Err<E> {
  return { ok: false, error };
}

/** Ends an exhaustive switch: the compiler proves every case was handled. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
