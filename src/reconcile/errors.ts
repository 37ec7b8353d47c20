// Kept apart from cycle.ts so that the CLI can recognise it without loading the cycle's dependencies.

/** The state could not be saved: nothing was written to OneAPI (a write the state cannot record would repeat). */
export class StateSaveError extends Error {
  constructor(path: string, cause: Error) {
    super(`state cannot be saved to ${path} (${cause.message}); no priority was written to OneAPI`);
    this.name = 'StateSaveError';
  }
}
