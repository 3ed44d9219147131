/** Invalid configuration or input. `field` is the path of the offending field, e.g. `agents[2].every`. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** A persistence failure; the message names the store location and the problem. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    readonly location: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${location}: ${problem}`, options);
  }
}
