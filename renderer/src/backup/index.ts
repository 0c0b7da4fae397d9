/**
 * What other renderer folders may use from backup/ (the only door into this folder): the
 * line a finished backup job's result comes to, which Courier's "Back up after pulling"
 * adds to the pull's own line.
 */
export { backupJobSummaries } from './jobSummaries.ts';
