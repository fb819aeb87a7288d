/** Process exit codes (sysexits where one fits), shared by every command. */
export const EXIT = {
  ok: 0,
  unexpected: 1,
  /** Finished, but some records were rejected (dead-lettered). */
  partial: 2,
  /** Stopped before finishing; everything is kept for the next run (EX_TEMPFAIL). */
  tempfail: 75,
  /** Configuration or argument error (EX_CONFIG). */
  config: 78,
} as const;
