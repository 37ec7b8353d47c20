/** Bad command-line usage (a wrong flag value, an unwritable --svg path): exit 2 with the message alone. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure a person can act on from its message (a file that cannot be written): exit 1, no stack trace. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}
