/** A failure whose message says all a person at the terminal needs: printed alone, without a stack. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
