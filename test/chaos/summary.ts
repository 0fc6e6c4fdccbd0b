// What each part of the chaos suite (`npm run test:chaos`) reports; the runner adds them up, prints a summary and, as
// its last line, one JSON object (the keys named by the reliability issue).
export interface PartResult {
  /** The part's name, e.g. `failover`, `appliance`, `hostile-input`, `security`. */
  part: string;
  /** Whether every invariant and expectation of the part held. */
  passed: boolean;
  /** Claims created during the part. */
  claims: number;
  leaderKills: number;
  apiserverRestarts: number;
  partitions: number;
  /** Faults injected, by kind (e.g. `wapi-5xx-before`, `wapi-drop-after`, `leader-sigkill`). */
  faults: Record<string, number>;
  /** Malformed or hostile inputs tried. */
  badInputs: number;
  /** Addresses held by more than one claim within one address domain (or one appliance network). */
  duplicates: number;
  /**
   * IPAddresses without a live claim, live claims without an IPAddress, ledger entries (or reservations of an older
   * release) without a live holder or released past their grace period, host records without a claim.
   */
  leaks: number;
  /** Claims (or pools) still carrying a finalizer after settling although deleted. */
  stuck: number;
  /** p99 in ms of a well-formed claim's time to `status.addressRef` while the faults/inputs were applied. */
  p99Ms?: number;
  /** Lines for the human summary: what was done, what was found. */
  notes: string[];
}

export const emptyResult = (part: string): PartResult => ({
  part,
  passed: true,
  claims: 0,
  leaderKills: 0,
  apiserverRestarts: 0,
  partitions: 0,
  faults: {},
  badInputs: 0,
  duplicates: 0,
  leaks: 0,
  stuck: 0,
  notes: [],
});
